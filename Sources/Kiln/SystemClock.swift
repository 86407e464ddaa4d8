import KilnCore

#if canImport(Glibc)
import Glibc
#endif

/// The machine's clocks, the engine's by default: `CLOCK_REALTIME` for timestamps,
/// `CLOCK_MONOTONIC` (Swift's `ContinuousClock`) for intervals and sleeps. The only place
/// in the engine that reads a clock or sleeps on one.
public struct SystemClock: EngineClock {
    private let origin = ContinuousClock.now

    public init() {}

    public func now() -> Timestamp { Self.wallTime() }

    /// `CLOCK_REALTIME` in nanoseconds since the Unix epoch.
    @Sendable public static func wallTime() -> Timestamp {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Timestamp(nanoseconds: Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec))
    }

    public func uptime() -> Duration { ContinuousClock.now - origin }

    public func sleep(for duration: Duration) async throws {
        try await Task.sleep(for: duration)
    }
}
