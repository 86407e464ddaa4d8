import KilnCore
import Synchronization

/// A clock moved by hand, for driving the engine through retries, expiries, heartbeats
/// and waits without waiting: pass it as the engine's clock. Time stands still until a
/// test calls `advance`, which wakes every sleeper whose time has come (in the order of
/// their deadlines). A sleeper that is cancelled wakes at once and throws.
public final class ManualClock: EngineClock {
    private struct Sleeper {
        var deadline: Timestamp
        var duration: Duration
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct Watcher {
        var matches: @Sendable (Duration) -> Bool
        var continuation: CheckedContinuation<Duration, Never>
    }

    private struct State {
        var time: Timestamp
        var nextSleeper = 0
        var sleepers: [Int: Sleeper] = [:]
        var watchers: [Int: Watcher] = [:]
    }

    private let start: Timestamp
    private let state: Mutex<State>

    public init(_ start: Timestamp = Timestamp(nanoseconds: 1_800_000_000_000_000_000)) {
        self.start = start
        state = Mutex(State(time: start))
    }

    @Sendable public func now() -> Timestamp { state.withLock { $0.time } }

    public func uptime() -> Duration { now() - start }

    /// How many tasks sleep on the clock now.
    public var sleepers: Int { state.withLock { $0.sleepers.count } }

    public func advance(by duration: Duration) {
        let due = state.withLock { state -> [Sleeper] in
            state.time = state.time + duration
            let time = state.time
            let due = state.sleepers.filter { $0.value.deadline <= time }
            for key in due.keys { state.sleepers[key] = nil }
            return due.values.sorted { $0.deadline < $1.deadline }
        }
        for sleeper in due { sleeper.continuation.resume() }
    }

    /// Returns the duration of a sleep for which `matches` holds once a task sleeps so:
    /// at once for one already sleeping, else when the next such sleep starts. A test
    /// waits this way for the engine to reach a timer (an outage's backoff, an idle wait)
    /// instead of polling on the wall clock. `matches` may read the engine's state.
    /// Cancelled, it returns `.zero` at once.
    public func nextSleep(where matches: @escaping @Sendable (Duration) -> Bool = { _ in true }) async -> Duration {
        let sleeping = state.withLock { $0.sleepers.values.map(\.duration) }
        if let found = sleeping.first(where: matches) { return found }
        let key = state.withLock { state in
            defer { state.nextSleeper += 1 }
            return state.nextSleeper
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let cancelled = state.withLock { state -> Bool in
                    if Task.isCancelled { return true }
                    state.watchers[key] = Watcher(matches: matches, continuation: continuation)
                    return false
                }
                if cancelled { continuation.resume(returning: .zero) }
            }
        } onCancel: {
            let watcher = state.withLock { $0.watchers.removeValue(forKey: key) }
            watcher?.continuation.resume(returning: .zero)
        }
    }

    /// Tells the watchers that a sleep of `duration` has started (it is registered: an
    /// `advance` from here on wakes it).
    private func started(_ duration: Duration) {
        let watchers = state.withLock { $0.watchers }
        for (key, watcher) in watchers where watcher.matches(duration) {
            // Resumed once: by this sleep, unless cancelled (or another sleep) took it first.
            if state.withLock({ $0.watchers.removeValue(forKey: key) }) != nil { watcher.continuation.resume(returning: duration) }
        }
    }

    public func sleep(for duration: Duration) async throws {
        let key = state.withLock { state in
            defer { state.nextSleeper += 1 }
            return state.nextSleeper
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let outcome = state.withLock { state -> Result<Void, any Error>? in
                    if Task.isCancelled { return .failure(CancellationError()) }
                    let deadline = state.time + duration
                    if deadline <= state.time { return .success(()) }
                    state.sleepers[key] = Sleeper(deadline: deadline, duration: duration, continuation: continuation)
                    return nil
                }
                if let outcome { continuation.resume(with: outcome) } else { started(duration) }
            }
        } onCancel: {
            let sleeper = state.withLock { $0.sleepers.removeValue(forKey: key) }
            sleeper?.continuation.resume(throwing: CancellationError())
        }
    }
}
