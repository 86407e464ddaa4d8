/// What happens to a message after an attempt, decided from the reply alone.
public enum AttemptDisposition: Hashable, Sendable {
    case delivered
    /// A permanent failure. `suppressRecipient` is true when the address itself is bad.
    case bounced(suppressRecipient: Bool)
    /// Try again at this time.
    case retry(at: Timestamp)
    /// Its maximum age passed before it could be delivered.
    case expired

    /// Decides the fate of a message after a reply read as `classification` (by the
    /// Dispatcher's `ReplyReader`: operator rules, then the built-in table).
    ///
    /// | reply class | disposition |
    /// |---|---|
    /// | success | delivered |
    /// | permanent-user | bounced, recipient suppressed |
    /// | permanent-message | bounced |
    /// | permanent-policy | retried with backoff (another IP, or after the block): the recipient is not at fault |
    /// | throttle | due again at once in its place (its submit time) when the router rests the pair (`resumeAt`), else after a short backoff |
    /// | temporary | retried with backoff |
    ///
    /// A retry whose time the message would have expired at (`RetryPolicy.isExpired`)
    /// expires instead.
    /// - Parameters:
    ///   - failedAttempts: failed attempts including this one.
    ///   - resumeAt: when the (IP, provider) pair may send again, after a throttle.
    public static func decide(
        classification: ReplyClassification, failedAttempts: Int, createdAt: Timestamp, now: Timestamp, resumeAt: Timestamp? = nil,
        policy: RetryPolicy, using rng: inout some RandomNumberGenerator
    ) -> AttemptDisposition {
        let retryAt: Timestamp
        switch classification.replyClass {
        case .success:
            return .delivered
        case .permanentUser:
            return .bounced(suppressRecipient: true)
        case .permanentMessage:
            return .bounced(suppressRecipient: false)
        case .throttle:
            // The throttle refused the pair's rate, not the message. When the router rests
            // the pair (`resumeAt`), the message is due again at once and keeps its place in
            // the queue (its submit time), as a retransmission goes before new data: the
            // router sends it from another IP, spills it or defers it to the refill. Due at
            // `now` it would wait behind all the mail submitted before now, a whole backlog
            // (past its maximum age when the backlog is half of it). Else a short backoff.
            retryAt = resumeAt != nil ? min(createdAt, now) : now + policy.delay(afterFailedAttempts: 1, using: &rng)
        case .permanentPolicy, .temporary:
            retryAt = now + policy.delay(afterFailedAttempts: failedAttempts, using: &rng)
        }
        if policy.isExpired(createdAt: createdAt, now: retryAt) { return .expired }
        return .retry(at: retryAt)
    }
}
