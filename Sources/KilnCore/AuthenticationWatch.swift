/// Counts replies that say the sender failed authentication (reason `authfailure`: SPF,
/// DKIM, DMARC, alignment), per configuration set, over a sliding window: many of them in
/// a short time mean the sending setup is broken (Gmail and Microsoft reject
/// unauthenticated bulk mail), and every further message only adds to the refusals. One
/// stray reply (a forwarder, one strict receiver) pauses nothing.
public struct AuthenticationWatch: Sendable {
    /// The window the failures are counted in.
    public static let window: Int64 = 600_000_000_000

    /// Failures within `window` that pause a set; 0 turns the watch off.
    public let limit: Int
    var failures: [String: [Int64]] = [:]

    public init(limit: Int) { self.limit = max(0, limit) }

    /// Records one reply for `configurationSet` at `now`: true when the set reached the
    /// limit with it (then its count starts again).
    public mutating func record(_ classification: ReplyClassification, configurationSet: String, now: Timestamp) -> Bool {
        guard limit > 0, classification.reason == .authFailure, classification.replyClass != .success else { return false }
        let t = now.nanoseconds
        var times = failures[configurationSet, default: []]
        times.removeAll { $0 <= t &- Self.window }
        times.append(t)
        if times.count >= limit {
            failures[configurationSet] = nil
            return true
        }
        failures[configurationSet] = times
        return false
    }
}
