import KilnCore
import Testing

/// The dispatcher protects a pair from what the provider does, whatever its replies say:
/// congestion, a block, and an escalating throttle, on a clock moved by hand.
@Suite struct BehaviouralSignalTests {
    let t0 = Timestamp(nanoseconds: 1_000_000_000_000)

    /// One IP; Gmail takes 6,000 an hour from it (100 a minute).
    func dispatcher() -> Dispatcher {
        let overrides = ["gmail": ProviderProfile.Override(coldHourly: 6_000, warmHourly: 60_000, throttleBackoffSeconds: 900)]
        let router = Router(pools: [.init(name: "p", ips: ["127.0.0.2"], scaling: .fixed, spillover: .never)], now: t0,
                            profiles: { ProviderProfile.resolve($0, overrides: overrides) })
        return Dispatcher(router: router, retry: RetryPolicy(jitter: 0, maxMessageAge: .seconds(86_400)))
    }

    /// Sends `count` messages at `now`, each from the IP (it must have the tokens).
    func send(_ d: inout Dispatcher, _ count: Int, at now: Timestamp) {
        for _ in 0..<count {
            let decision = d.decide(provider: .gmail, pool: "p", createdAt: now, now: now)
            #expect(decision == .send(.dedicated(ip: "127.0.0.2")))
        }
    }

    func reply(_ d: inout Dispatcher, _ classification: ReplyClassification, at now: Timestamp, failedAttempts: Int = 0,
               recipient: Int? = nil) -> Dispatcher.Completion {
        var rng = SeededRandom(seed: 1)
        return d.complete(provider: .gmail, path: .dedicated(ip: "127.0.0.2"), classification: classification, createdAt: now,
                          failedAttempts: failedAttempts, recipient: recipient, now: now, using: &rng)
    }

    let systemError = ReplyClassification(.temporary, scope: .message, reason: .systemError, rule: "test")
    let greylisted = ReplyClassification(.temporary, scope: .message, reason: .greylisted, rule: "greylisting")
    let spam = ReplyClassification(.permanentMessage, scope: .message, reason: .spamDetected, rule: "spam-content")
    let user = ReplyClassification(.permanentUser, scope: .recipient, reason: .userUnknown, rule: "user-unknown")

    @Test func manyTemporaryFailuresOfAnyReadingSlowThePair() {
        var d = dispatcher()
        send(&d, 16, at: t0)
        var signals: [PairSignal?] = []
        for k in 0..<10 { signals.append(reply(&d, systemError, at: t0 + .seconds(k)).signal) }
        #expect(signals.compactMap { $0 } == [.congestion])
        let fired = signals.firstIndex { $0 != nil }!
        #expect(fired == PairSignals.minFailures - 1)
        // The pair rests, and the next message waits.
        #expect(d.router.suspension(ip: "127.0.0.2", provider: .gmail, now: t0 + .seconds(10)) != nil)
    }

    @Test func aFewTemporaryFailuresAmongManyAttemptsDoNothing() {
        var d = dispatcher()
        // 5 failures among 95 attempts: about 5 % (a receiver's usual bad moments).
        for minute in 0..<5 {
            let now = t0 + .seconds(60 * minute)
            send(&d, 19, at: now)
            let signal = reply(&d, systemError, at: now + .seconds(30)).signal
            #expect(signal == nil)
        }
        #expect(d.router.suspension(ip: "127.0.0.2", provider: .gmail, now: t0 + .seconds(300)) == nil)
    }

    @Test func greylistingOfFirstAttemptsIsNotCongestionButAFailedRetryCounts() {
        var d = dispatcher()
        send(&d, 16, at: t0)
        for k in 0..<16 { let signal = reply(&d, greylisted, at: t0 + .seconds(k)).signal; #expect(signal == nil) }
        #expect(d.router.suspension(ip: "127.0.0.2", provider: .gmail, now: t0 + .seconds(20)) == nil)
        // Greylisted again on a retry: a greylister accepts retries, so this is not greylisting.
        var signals: [PairSignal] = []
        for k in 0..<10 { if let s = reply(&d, greylisted, at: t0 + .seconds(30 + k), failedAttempts: 1).signal { signals.append(s) } }
        #expect(signals == [.congestion])
    }

    @Test func permanentRefusalsOfManyRecipientsWhereMailWasTakenAreABlock() {
        var d = dispatcher()
        // An hour of mail taken.
        send(&d, 50, at: t0)
        let later = t0 + .seconds(3600)
        send(&d, 20, at: later)
        var completions: [Dispatcher.Completion] = []
        for k in 0..<8 { completions.append(reply(&d, spam, at: later + .seconds(k), recipient: k)) }
        let fired = completions.filter { $0.signal == .block }
        #expect(fired.count == 1)
        #expect(fired.first?.event == .block)
        // The refusals alone ordered nothing for their lane; the block withdraws and holds it.
        #expect(completions.filter { $0.signal == nil }.allSatisfy { $0.laneOrders.isEmpty })
        #expect(fired.first?.laneOrders == [.withdraw, .hold(d.reader.laneHold)])
        // The message is retried, not bounced: the IP, not the message, was refused.
        if case .retry = fired.first?.disposition {} else { Issue.record("the block's message was not retried") }
        #expect(d.router.suspension(ip: "127.0.0.2", provider: .gmail, now: later + .seconds(3600)) != nil)
    }

    @Test func oneRecipientRefusedAgainAndAgainIsNotABlock() {
        var d = dispatcher()
        send(&d, 50, at: t0)
        let later = t0 + .seconds(3600)
        send(&d, 20, at: later)
        for k in 0..<10 { let signal = reply(&d, spam, at: later + .seconds(k), failedAttempts: k, recipient: 7).signal; #expect(signal == nil) }
    }

    @Test func unknownUsersAreNeverABlock() {
        var d = dispatcher()
        send(&d, 50, at: t0)
        let later = t0 + .seconds(3600)
        send(&d, 20, at: later)
        for k in 0..<15 { let signal = reply(&d, user, at: later + .seconds(k), recipient: k).signal; #expect(signal == nil) }
    }

    @Test func aThrottleThatComesBackAfterEveryRestIsABlock() {
        var d = dispatcher()
        let throttle = ReplyClassification(.throttle, scope: .ip, reason: .rateLimited, rule: "rate-limit")
        var now = t0
        var signals: [PairSignal?] = []
        var last = now
        for _ in 0..<(PairSignals.escalateAfter + 1) {
            let completion = reply(&d, throttle, at: now)
            signals.append(completion.signal)
            last = now
            // Resumes when the rest ends, and is throttled again at once.
            now = completion.resumeAt ?? now
        }
        #expect(signals.dropLast().allSatisfy { $0 == nil })
        #expect(signals.last == .escalation)
        // A throttle read as one already withdrew its lane: the escalation adds no order.
        #expect(reply(&d, throttle, at: now).laneOrders.isEmpty)
        // Suspended as by a block: 12 hours from the last throttle.
        #expect(d.router.suspension(ip: "127.0.0.2", provider: .gmail, now: last + .seconds(6 * 3600)) != nil)
    }

    @Test func aThrottleAfterARestThatClearedItStartsAgain() {
        var d = dispatcher()
        let throttle = ReplyClassification(.throttle, scope: .ip, reason: .rateLimited, rule: "rate-limit")
        var now = t0
        for _ in 0..<6 {
            let completion = reply(&d, throttle, at: now)
            #expect(completion.signal == nil)
            // The rest cleared it: the next throttle comes long after.
            now = (completion.resumeAt ?? now) + .seconds(2 * 3600)
        }
    }
}

/// Replies that the sender failed authentication pause a configuration set when many come
/// in a short time.
@Suite struct AuthenticationWatchTests {
    let failure = SMTPReply(parsing: "550 5.7.26 This mail has been blocked because the sender is unauthenticated.")!.classification

    @Test func twentyInAMinutePauseTheSetAndOneDoesNot() {
        var watch = AuthenticationWatch(limit: 20)
        let t0 = Timestamp(nanoseconds: 1_000_000_000_000)
        #expect(failure.reason == .authFailure)
        let first = watch.record(failure, configurationSet: "bulk", now: t0)
        #expect(!first, "one reply paused the set")
        var paused: [Int] = []
        for k in 1..<20 where watch.record(failure, configurationSet: "bulk", now: t0 + .seconds(3 * k)) { paused.append(k) }
        #expect(paused == [19])
        // Another set's failures count apart.
        let other = watch.record(failure, configurationSet: "other", now: t0 + .seconds(60))
        #expect(!other)
    }

    @Test func failuresSpreadOverHoursDoNotAddUp() {
        var watch = AuthenticationWatch(limit: 20)
        let t0 = Timestamp(nanoseconds: 1_000_000_000_000)
        for k in 0..<100 { let paused = watch.record(failure, configurationSet: "bulk", now: t0 + .seconds(60 * k)); #expect(!paused) }
    }

    @Test func zeroTurnsTheWatchOff() {
        var watch = AuthenticationWatch(limit: 0)
        let t0 = Timestamp(nanoseconds: 1_000_000_000_000)
        for k in 0..<100 { let paused = watch.record(failure, configurationSet: "bulk", now: t0 + .milliseconds(k)); #expect(!paused) }
    }
}

/// The safe default and the cues' precedence, on replies written for this test (not from
/// the table's phrases): a 4xx nobody places slows the pair, a 5xx block is a block.
@Suite struct SafeDefaultTests {
    @Test(arguments: [
        "421 4.3.2 Service not available",
        "451 4.3.0 Temporary failure, please try again later",
        "421 Service temporarily unavailable",
        "450 4.7.1 Requested action aborted",
        "421 4.7.1 Messages to example.com deferred due to excessive volume. Try again later",
        "451 Bitte später noch einmal versuchen",
    ])
    func aTransientReplyNobodyPlacesSlowsThePair(_ text: String) throws {
        let c = try #require(SMTPReply(parsing: text)).classification
        #expect(c.replyClass == .throttle && c.scope == .ip, "\(c.replyClass) / \(c.scope), rule \(c.rule)")
    }

    @Test(arguments: [
        ("451 4.7.1 Greylisted, please try again later", ReplyScope.message),
        ("450 4.2.1 The user you are trying to contact is receiving mail too quickly", .recipient),
        ("452 4.2.2 Mailbox full", .recipient),
        ("452 4.5.3 Too many recipients", .session),
    ])
    func aTransientReplyPlacedOnOneRecipientOrMessageDoesNot(_ text: String, _ scope: ReplyScope) throws {
        let c = try #require(SMTPReply(parsing: text)).classification
        #expect(c.replyClass == .temporary && c.scope == scope, "\(c.replyClass) / \(c.scope), rule \(c.rule)")
    }

    @Test(arguments: [
        "554 5.7.1 Rejected",
        "550-5.7.1 Our system has detected an unusual rate of unsolicited mail originating from your IP address. Mail sent from your IP address has been blocked.",
        "550 5.7.28 Unusual rate of mail from your IP; your IP has been blocked",
    ])
    func aPermanentReplyThatSaysBlockedIsABlock(_ text: String) throws {
        let c = try #require(SMTPReply(parsing: text)).classification(provider: .gmail)
        #expect(c.replyClass == .permanentPolicy && c.scope == .ip, "\(c.replyClass) / \(c.scope), rule \(c.rule)")
    }
}
