/// A token bucket in integer nanoseconds, kept as the generic cell rate algorithm (GCRA):
/// one timestamp, the theoretical arrival time of the next message, instead of a token
/// count that must be refilled. The hourly allowance is spread evenly across the hour
/// (one token every `interval`), and at most `burst` tokens can be taken at once after a
/// quiet period. In any window of length `w` at most `w / interval + burst` tokens are
/// taken.
///
/// ```swift
/// var bucket = TokenBucket(hourly: 3600, burst: 10)   // one a second, bursts of 10
/// if bucket.take(now: now) { send() } else { retry(at: bucket.nextAvailable(now: now)) }
/// ```
public struct TokenBucket: Hashable, Sendable, Codable {
    /// Nanoseconds between two tokens.
    public private(set) var interval: Int64
    /// Tokens that may be taken back to back.
    public private(set) var burst: Int64
    /// When the bucket is empty again if nothing more is taken: a token can be taken at
    /// `now` while `emptyAt - now <= interval * (burst - 1)`.
    @usableFromInline var emptyAt: Int64

    static let hour: Int64 = 3_600_000_000_000

    /// - Parameters:
    ///   - hourly: tokens per hour (more than zero; below one an hour means one every
    ///     `1 / hourly` hours).
    ///   - burst: the bound on back-to-back tokens, at least one.
    public init(hourly: Double, burst: Int) {
        interval = Self.interval(hourly: hourly)
        self.burst = Int64(max(1, burst))
        emptyAt = Int64.min / 2
    }

    static func interval(hourly: Double) -> Int64 {
        guard hourly > 0 else { return Self.hour * 24 * 365 }
        return max(1, Int64(saturating: (Double(hour) / hourly).rounded()))
    }

    /// Tokens per hour.
    public var hourly: Double { Double(Self.hour) / Double(interval) }

    /// Takes one token if one is available at `now`.
    @inlinable public mutating func take(now: Timestamp) -> Bool {
        let start = Swift.max(emptyAt, now.nanoseconds)
        guard start - now.nanoseconds <= interval &* (burst - 1) else { return false }
        emptyAt = start &+ interval
        return true
    }

    /// Whether a token is available at `now`, without taking it.
    public func isAvailable(now: Timestamp) -> Bool {
        Swift.max(emptyAt, now.nanoseconds) - now.nanoseconds <= interval &* (burst - 1)
    }

    /// The earliest time a token is available (`now` if one is).
    public func nextAvailable(now: Timestamp) -> Timestamp {
        let wait = Swift.max(emptyAt, now.nanoseconds) - now.nanoseconds - interval &* (burst - 1)
        return wait <= 0 ? now : Timestamp(nanoseconds: now.nanoseconds + wait)
    }

    /// Tokens that could be taken back to back at `now`.
    public func available(now: Timestamp) -> Int {
        let backlog = Swift.max(emptyAt, now.nanoseconds) - now.nanoseconds
        return Int(Swift.max(0, burst - (backlog + interval - 1) / interval))
    }

    /// Changes the rate at once, keeping what has been taken: a lower rate makes the
    /// tokens already taken weigh more, so a slowdown is felt immediately.
    public mutating func setRate(hourly: Double, burst: Int, now: Timestamp) {
        let newInterval = Self.interval(hourly: hourly)
        let backlog = Swift.max(0, emptyAt - now.nanoseconds)
        let owed = (backlog + interval - 1) / interval
        interval = newInterval
        self.burst = Int64(max(1, burst))
        emptyAt = backlog == 0 ? Swift.min(emptyAt, now.nanoseconds) : now.nanoseconds &+ owed &* newInterval
    }
}
