import KilnCore
import Synchronization

/// A wait that ends early when poked: the delivery loop waits on it while it has nothing
/// to send, and a local submission, a stop or a resume pokes it. A poke while nobody waits
/// is kept for the next wait, so none is lost.
final class Wakeup: Sendable {
    /// What the timeouts are measured on.
    let clock: any EngineClock
    private let state = Mutex<(poked: Bool, waiter: CheckedContinuation<Void, Never>?)>((false, nil))

    init(clock: any EngineClock) { self.clock = clock }

    /// Ends the current wait, or the next one.
    func poke() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard let waiter = state.waiter else {
                state.poked = true
                return nil
            }
            state.waiter = nil
            return waiter
        }
        waiter?.resume()
    }

    /// Waits until poked or until `timeout` has passed (or the task is cancelled);
    /// true when poked.
    func wait(upTo timeout: Duration) async -> Bool {
        if state.withLock({ state in defer { state.poked = false }; return state.poked }) { return true }
        return await withTaskGroup(of: Bool.self) { group in
            group.addTask { [self] in
                await withTaskCancellationHandler {
                    await withCheckedContinuation { continuation in
                        let early = state.withLock { state -> Bool in
                            if state.poked || Task.isCancelled {
                                state.poked = false
                                return true
                            }
                            state.waiter = continuation
                            return false
                        }
                        if early { continuation.resume() }
                    }
                    return true
                } onCancel: {
                    // The timeout won: the waiter goes, resumed, so the group can end.
                    let waiter = state.withLock { state in
                        defer { state.waiter = nil }
                        return state.waiter
                    }
                    waiter?.resume()
                }
            }
            group.addTask { [clock] in
                try? await clock.sleep(for: timeout)
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            // The poke task reports true even when it was only cancelled: the first
            // result decides.
            return first
        }
    }
}
