import KilnCore
import Synchronization

/// A wall clock moved by hand, for driving the engine through retries and expiries
/// without waiting: pass `clock.now` as the engine's `now`.
public final class ManualClock: Sendable {
    private let time: Mutex<Timestamp>

    public init(_ start: Timestamp = Timestamp(nanoseconds: 1_800_000_000_000_000_000)) { time = Mutex(start) }

    @Sendable public func now() -> Timestamp { time.withLock { $0 } }

    public func advance(by duration: Duration) { time.withLock { $0 = $0 + duration } }
}
