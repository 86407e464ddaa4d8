import KilnCore
import Testing

struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite struct RouterTests {
    let t0 = Timestamp(nanoseconds: 1_000_000_000_000)
    /// A fixed two-IP pool whose providers take plenty, so that only suspensions matter.
    func router() -> Router {
        let roomy = ProviderProfile.Override(coldHourly: 360_000, warmHourly: 3_600_000)
        let overrides = ["gmail": roomy, "yahoo": roomy]
        return Router(pools: [.init(name: "p", ips: ["127.0.0.2", "127.0.0.3"], scaling: .fixed)], now: t0,
                      profiles: { ProviderProfile.resolve($0, overrides: overrides) })
    }

    @Test func equallyColdIPsShareTheTraffic() {
        var router = router()
        let picks = (0..<4).map { _ in router.route(provider: .gmail, pool: "p", now: t0) }
        #expect(picks == [.dedicated(ip: "127.0.0.2"), .dedicated(ip: "127.0.0.3"), .dedicated(ip: "127.0.0.2"), .dedicated(ip: "127.0.0.3")])
    }

    @Test func aThrottleRestsThatPairOnlyForTheProvidersBackoff() throws {
        var router = router()
        let throttle = try #require(SMTPReply(parsing: ProviderReplies.gmailThrottle))
        let until = router.record(throttle.reading, ip: "127.0.0.2", provider: .gmail, now: t0)
        #expect(until == t0 + .seconds(900))
        for _ in 0..<3 { #expect(router.route(provider: .gmail, pool: "p", now: t0) == .dedicated(ip: "127.0.0.3")) }
        // Other providers are not affected.
        let yahoo = Set((0..<2).map { _ in router.route(provider: .yahoo, pool: "p", now: t0) })
        #expect(yahoo == [.dedicated(ip: "127.0.0.2"), .dedicated(ip: "127.0.0.3")])
        // After the backoff the IP is used again (first, now: the throttle left it the coldest).
        let later = t0 + .seconds(901)
        let picks = Set((0..<2).map { _ in router.route(provider: .gmail, pool: "p", now: later) })
        #expect(picks.contains(.dedicated(ip: "127.0.0.2")))
    }

    @Test func whenEveryIPRestsTheMessageWaitsForTheFirstToResume() throws {
        var router = router()
        let throttle = try #require(SMTPReply(parsing: ProviderReplies.yahooThrottle))
        router.record(throttle.reading, ip: "127.0.0.2", provider: .yahoo, now: t0)
        router.record(throttle.reading, ip: "127.0.0.3", provider: .yahoo, now: t0 + .seconds(10))
        #expect(router.route(provider: .yahoo, pool: "p", now: t0 + .seconds(20)) == .deferred(until: t0 + .seconds(1800)))
    }

    @Test func aUserUnknownDoesNotSlowTheIP() throws {
        var router = router()
        #expect(router.record(try #require(SMTPReply(parsing: ProviderReplies.gmailUserUnknown)).reading, ip: "127.0.0.2", provider: .gmail, now: t0) == nil)
        #expect(router.suspension(ip: "127.0.0.2", provider: .gmail, now: t0) == nil)
    }

    @Test func aBlockSuspendsThePair() throws {
        var router = router()
        router.record(try #require(SMTPReply(parsing: ProviderReplies.gmailBlock)).reading, ip: "127.0.0.2", provider: .gmail, now: t0)
        #expect(router.suspension(ip: "127.0.0.2", provider: .gmail, now: t0 + .seconds(3600)) == t0 + .seconds(12 * 3600))
    }
}

@Suite struct RetryTests {
    let t0 = Timestamp(nanoseconds: 1_000_000_000_000)

    @Test func backoffGrowsExponentiallyUpToTheCap() {
        let policy = RetryPolicy(jitter: 0)
        var rng = SeededGenerator(state: 1)
        let delays = (1...8).map { policy.delay(afterFailedAttempts: $0, using: &rng) }
        #expect(delays == [.seconds(60), .seconds(120), .seconds(240), .seconds(480), .seconds(960), .seconds(1920), .seconds(3600), .seconds(3600)])
    }

    @Test func jitterStaysWithinItsSpreadAndIsDeterministicForASeed() {
        let policy = RetryPolicy(jitter: 0.2)
        var a = SeededGenerator(state: 42), b = SeededGenerator(state: 42)
        for attempt in 1...20 {
            let d = policy.delay(afterFailedAttempts: attempt, using: &a)
            #expect(d == policy.delay(afterFailedAttempts: attempt, using: &b))
            let base = min(3600, 60 * Double(1 << min(attempt - 1, 20)))
            #expect(d.secondsDouble >= base * 0.8 - 0.001 && d.secondsDouble <= base * 1.2 + 0.001)
        }
    }

    @Test(arguments: [
        ("250 2.0.0 OK", AttemptDisposition.delivered),
        ("550 5.1.1 user unknown", .bounced(suppressRecipient: true)),
        ("552 5.3.4 too big", .bounced(suppressRecipient: false)),
    ])
    func finalDispositions(text: String, expected: AttemptDisposition) throws {
        var rng = SeededGenerator(state: 1)
        let reply = try #require(SMTPReply(parsing: text))
        #expect(AttemptDisposition.decide(classification: reply.reading, failedAttempts: 1, createdAt: t0, now: t0, policy: RetryPolicy(), using: &rng) == expected)
    }

    @Test func temporaryFailuresRetryWithBackoffThenExpire() throws {
        var rng = SeededGenerator(state: 1)
        let policy = RetryPolicy(jitter: 0, maxMessageAge: .seconds(3 * 3600))
        let reply = try #require(SMTPReply(parsing: "451 4.7.1 Greylisted, try later"))
        #expect(AttemptDisposition.decide(classification: reply.reading, failedAttempts: 3, createdAt: t0, now: t0 + .seconds(100), policy: policy, using: &rng) == .retry(at: t0 + .seconds(340)))
        #expect(AttemptDisposition.decide(classification: reply.reading, failedAttempts: 3, createdAt: t0, now: t0 + .seconds(3 * 3600 - 200), policy: policy, using: &rng) == .expired)
    }

    @Test func aThrottleFromARestedPairIsDueAgainAtOnceInItsPlaceInTheQueue() throws {
        var rng = SeededGenerator(state: 1)
        let reply = try #require(SMTPReply(parsing: ProviderReplies.gmailThrottle))
        let policy = RetryPolicy(jitter: 0)
        // Submitted 35 hours ago: due again at its submit time, ahead of the mail submitted
        // since, whatever the pair's rest (the router keeps that).
        let now = t0 + .seconds(35 * 3600)
        for resume in [now + .seconds(30), now + .seconds(900)] {
            #expect(AttemptDisposition.decide(classification: reply.reading, failedAttempts: 5, createdAt: t0, now: now, resumeAt: resume, policy: policy, using: &rng) == .retry(at: t0))
        }
        // No pair rested (the shared relay throttled): a short backoff.
        #expect(AttemptDisposition.decide(classification: reply.reading, failedAttempts: 5, createdAt: t0, now: now, policy: policy, using: &rng) == .retry(at: now + .seconds(60)))
    }

    @Test func aPolicyBlockNeverBouncesTheRecipient() throws {
        var rng = SeededGenerator(state: 1)
        let reply = try #require(SMTPReply(parsing: ProviderReplies.gmailBlock))
        let disposition = AttemptDisposition.decide(classification: reply.reading, failedAttempts: 1, createdAt: t0, now: t0, policy: RetryPolicy(jitter: 0), using: &rng)
        #expect(disposition == .retry(at: t0 + .seconds(60)))
    }
}
