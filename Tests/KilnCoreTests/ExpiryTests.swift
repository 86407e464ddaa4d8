import KilnCore
import Testing

/// One expiry test (`RetryPolicy.isExpired`) for routing, a retry's time and the policy.
@Suite struct ExpiryTests {
    /// Routing, a retry's time and `RetryPolicy` answer from the same expiry test, also
    /// where the age does not fit in Int64 nanoseconds (the old `RetryPolicy` wrapped there).
    @Test(arguments: [
        (1_000_000_000_000, 1_000_000_000_000 + 3_599_999_999_999, false),
        (1_000_000_000_000, 1_000_000_000_000 + 3_600_000_000_000, true),
        (1_001_000_000_000, 1_000_000_000_000, false),
        (Int64.min + 10, Int64.max - 10, true),
    ] as [(Int64, Int64, Bool)])
    func expiryIsDecidedOnce(created: Int64, now: Int64, expired: Bool) {
        var d = DispatcherTests().dispatcher()
        let createdAt = Timestamp(nanoseconds: created), at = Timestamp(nanoseconds: now)
        #expect(d.retry.isExpired(createdAt: createdAt, now: at) == expired)
        #expect((d.decide(provider: .gmail, pool: "p", createdAt: createdAt, now: at) == .expire) == expired)
        #expect((d.decide(provider: .gmail, pool: "nowhere", createdAt: createdAt, now: at) == .expire) == expired)
        // A temporary failure whose retry would fall at `now` (a minute's backoff) expires exactly then.
        var rng = SystemRandomNumberGenerator()
        let greylisted = ReplyClassification(.temporary, scope: .message, reason: .greylisted)
        let disposition = AttemptDisposition.decide(classification: greylisted, failedAttempts: 1, createdAt: createdAt, now: at - .seconds(60),
                                                    policy: d.retry, using: &rng)
        #expect((disposition == .expired) == expired, "\(disposition)")
    }
}
