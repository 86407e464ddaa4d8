import KilnCore

/// Brute-force protection for the front door's logins, per client address: after a few
/// failures each answer is slowed, and after more the address is refused for a while
/// without its secret being checked. A success clears the address.
///
/// | failures within `window` (15 min) | what the next login meets |
/// |---|---|
/// | fewer than 3 | answered at once |
/// | 3 to 9 | answered after 2^(failures − 3) s, at most 8 s |
/// | 10 | refused for `lockout` (15 min), `454 4.7.0` / 429 |
public struct LoginThrottle: Sendable {
    public var slowAfter = 3
    public var lockAfter = 10
    public var window: Duration = .seconds(15 * 60)
    public var lockout: Duration = .seconds(15 * 60)
    /// Addresses remembered at most; the oldest are forgotten first.
    public var capacity = 10_000

    private struct Entry: Sendable {
        var failures: [Timestamp] = []
        var lockedUntil: Timestamp?
    }
    private var entries: [String: Entry] = [:]

    public init() {}

    public enum Verdict: Sendable, Equatable {
        /// Check the secret after waiting this long (zero: at once).
        case proceed(delay: Duration)
        /// Refuse without checking, for this many more seconds.
        case lockedOut(seconds: Int)
    }

    /// What a login from `peer` meets now.
    public func verdict(peer: String, now: Timestamp) -> Verdict {
        guard let entry = entries[peer] else { return .proceed(delay: .zero) }
        if let until = entry.lockedUntil, until > now {
            return .lockedOut(seconds: max(1, Int((until.nanoseconds - now.nanoseconds + 999_999_999) / 1_000_000_000)))
        }
        let recent = entry.failures.filter { now.nanoseconds - $0.nanoseconds < window.nanoseconds }.count
        guard recent >= slowAfter else { return .proceed(delay: .zero) }
        return .proceed(delay: .seconds(min(8, 1 << min(recent - slowAfter, 3))))
    }

    /// Records a failed login; true when it locked the address out.
    @discardableResult
    public mutating func failed(peer: String, now: Timestamp) -> Bool {
        if entries[peer] == nil, entries.count >= capacity, let oldest = entries.min(by: { ($0.value.failures.last ?? now) < ($1.value.failures.last ?? now) })?.key {
            entries[oldest] = nil
        }
        var entry = entries[peer] ?? Entry()
        entry.failures = entry.failures.filter { now.nanoseconds - $0.nanoseconds < window.nanoseconds } + [now]
        var locked = false
        if entry.failures.count >= lockAfter {
            entry.lockedUntil = now + lockout
            entry.failures = []
            locked = true
        }
        entries[peer] = entry
        return locked
    }

    /// A successful login clears the address's failures.
    public mutating func succeeded(peer: String) {
        entries[peer] = nil
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
