import Foundation

/// When to try a message again after a temporary failure: exponential backoff with
/// jitter, capped, and expiry once the message is older than its maximum age.
///
/// delay(n) = min(maximum, initial × factor^(n-1)) × (1 ± jitter), n = failed attempts
///
/// | attempt | delay (initial 60 s, factor 2, max 1 h, no jitter) |
/// |---|---|
/// | 1 | 1 min |
/// | 2 | 2 min |
/// | 4 | 8 min |
/// | 7+ | 60 min |
public struct RetryPolicy: Sendable, Hashable {
    public var initial: Duration
    public var factor: Double
    public var maximum: Duration
    /// Fraction of the delay added or taken away at random (0.2 = ±20 %).
    public var jitter: Double
    public var maxMessageAge: Duration

    public init(initial: Duration = .seconds(60), factor: Double = 2, maximum: Duration = .seconds(3600), jitter: Double = 0.2, maxMessageAge: Duration = .seconds(72 * 3600)) {
        self.initial = initial
        self.factor = factor
        self.maximum = maximum
        self.jitter = jitter
        self.maxMessageAge = maxMessageAge
    }

    /// The delay before the next attempt after `failedAttempts` failures (≥ 1).
    public func delay(afterFailedAttempts failedAttempts: Int, using rng: inout some RandomNumberGenerator) -> Duration {
        let exponent = Double(max(0, failedAttempts - 1))
        let base = min(maximum.secondsDouble, initial.secondsDouble * pow(factor, exponent))
        let spread = jitter > 0 ? Double.random(in: -jitter...jitter, using: &rng) : 0
        return .saturatingSeconds(max(0, base * (1 + spread)))
    }

    /// Whether a message created at `createdAt` may no longer be tried at `time`: its age
    /// has reached `maxMessageAge`. The one expiry test: the Dispatcher asks it before it
    /// routes a message, `AttemptDisposition` asks it of a retry's time. An age beyond
    /// Int64 nanoseconds (about 292 years) is expired when `time` is the later one.
    ///
    /// | age (maximum 72 h) | expired |
    /// |---|---|
    /// | 71 h 59 min | no |
    /// | 72 h | yes |
    /// | negative (created after `time`) | no |
    public func isExpired(createdAt: Timestamp, now time: Timestamp) -> Bool {
        Self.isExpired(createdAt: createdAt.nanoseconds, at: time.nanoseconds, maxAge: maxMessageAge.nanoseconds)
    }

    /// `isExpired(createdAt:now:)` on integer nanoseconds, for a caller that converts the
    /// maximum age once (the Dispatcher routes every message through it).
    @inlinable
    public static func isExpired(createdAt: Int64, at time: Int64, maxAge: Int64) -> Bool {
        let (age, overflow) = time.subtractingReportingOverflow(createdAt)
        return overflow ? time > createdAt : age >= maxAge
    }
}
