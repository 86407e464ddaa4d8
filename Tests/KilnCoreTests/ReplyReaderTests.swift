import KilnCore
import Testing

/// The Dispatcher's one reading of a reply (operator rules, then the built-in table) and
/// the orders it gives the reply's lane.
@Suite struct ReplyReaderTests {
    let t0 = Timestamp(nanoseconds: 1_000_000_000_000)

    /// `DispatcherTests`' dispatcher, reading with `reader`.
    func dispatcher(reader: ReplyReader = ReplyReader()) -> Dispatcher {
        let base = DispatcherTests().dispatcher()
        return Dispatcher(router: base.router, retry: base.retry, reader: reader)
    }

    @Test(arguments: [
        (ProviderReplies.gmailThrottle, 3, [LaneOrder.withdraw, .hold(.seconds(7))]),
        (ProviderReplies.gmailBlock, 1, [.withdraw, .hold(.seconds(7))]),
        ("452 4.5.3 too many recipients this session", 6, [.capMessagesPerConnection(5)]),
        ("452 4.5.3 too many recipients this session", 1, [.capMessagesPerConnection(1)]),
        (ProviderReplies.gmailUserUnknown, 2, []),
        (ProviderReplies.greylisted, 2, []),
        ("250 2.0.0 OK", 2, []),
    ])
    func aReadingOrdersItsLane(reply: String, placed: Int, orders: [LaneOrder]) throws {
        let reader = ReplyReader(laneHold: .seconds(7))
        let reading = reader.read(try #require(SMTPReply(parsing: reply)), provider: .gmail, messagesOnConnection: placed)
        #expect(reading.orders == orders, "\(reading.classification)")
    }

    /// An operator rule that reads a refusal of the recipient (a RCPT reply the built-in
    /// table puts on the recipient) as a throttle: the reading withdraws and holds the
    /// lane, and the Dispatcher rests the pair; the built-in reading
    /// alone does neither.
    @Test func anOperatorRuleReadingARecipientRefusalAsAThrottleOrdersTheLaneAndRestsThePair() throws {
        let rule = try OperatorReplyRule(id: "replyRules[0]", provider: "gmail", match: "RT-LIMIT", action: .throttle)
        let refusal = SMTPReply(code: 450, enhancedStatus: "4.2.0", text: "RCPT deferred: RT-LIMIT reached for this sender")
        var rng = SystemRandomNumberGenerator()

        var builtIn = dispatcher()
        let plain = builtIn.reader.read(refusal, provider: .gmail, messagesOnConnection: 1)
        #expect(plain.classification.scope == .recipient && plain.orders.isEmpty)
        let untouched = builtIn.complete(provider: .gmail, path: .dedicated(ip: "127.0.0.2"), classification: plain.classification,
                                         createdAt: t0, failedAttempts: 0, now: t0, using: &rng)
        #expect(untouched.resumeAt == nil)
        #expect(builtIn.router.suspension(ip: "127.0.0.2", provider: .gmail, now: t0) == nil)

        var ruled = dispatcher(reader: ReplyReader(classifier: ReplyClassifier(operatorRules: [rule])))
        let reading = ruled.reader.read(refusal, provider: .gmail, messagesOnConnection: 1)
        #expect(reading.classification.rule == "replyRules[0]" && reading.classification.replyClass == .throttle)
        #expect(reading.orders == [.withdraw, .hold(ruled.reader.laneHold)])
        let completion = ruled.complete(provider: .gmail, path: .dedicated(ip: "127.0.0.2"), classification: reading.classification,
                                        createdAt: t0, failedAttempts: 0, now: t0, using: &rng)
        #expect(completion.event == .throttle)
        #expect(completion.resumeAt == t0 + .seconds(900))
        #expect(ruled.router.suspension(ip: "127.0.0.2", provider: .gmail, now: t0) != nil)
        // Another provider's reply with the same words is not the rule's.
        #expect(ruled.reader.read(refusal, provider: .yahoo).orders.isEmpty)
    }
}
