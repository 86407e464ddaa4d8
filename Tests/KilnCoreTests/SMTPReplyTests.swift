import KilnCore
import Testing

@Suite struct SMTPReplyTests {
    @Test func parsesMultiLineReplies() throws {
        let reply = try #require(SMTPReply(parsing: "421-4.7.28 [192.0.2.1] Our system has detected\r\n421-4.7.28 an unusual rate\r\n421 4.7.28 https://support.google.com"))
        #expect(reply.code == 421)
        #expect(reply.enhancedStatus == "4.7.28")
        #expect(reply.text == "[192.0.2.1] Our system has detected an unusual rate https://support.google.com")
    }

    @Test func parsesRepliesWithoutEnhancedStatus() throws {
        let reply = try #require(SMTPReply(parsing: "554 delivery error: dd This user doesn't have a yahoo.com account"))
        #expect(reply.code == 554)
        #expect(reply.enhancedStatus == nil)
        #expect(reply.text.hasPrefix("delivery error"))
    }

    @Test func rejectsNonReplies() {
        #expect(SMTPReply(parsing: "hello") == nil)
        #expect(SMTPReply(parsing: "") == nil)
    }

    @Test(arguments: [
        (ProviderReplies.gmailThrottle, ReplyClass.throttle, ReplyScope.ip),
        (ProviderReplies.gmailRateLimit, .temporary, .recipient),
        (ProviderReplies.yahooThrottle, .throttle, .ip),
        (ProviderReplies.microsoftBusy, .throttle, .ip),
        (ProviderReplies.microsoftRateLimited, .throttle, .ip),
        (ProviderReplies.appleThrottle, .throttle, .ip),
        (ProviderReplies.greylisted, .temporary, .message),
        ("450 4.2.0 Mailbox temporarily unavailable", .temporary, .recipient),
        ("421 Too many connections from your IP", .throttle, .connection),
        ("421 Service not available, closing transmission channel", .throttle, .ip),
        (ProviderReplies.gmailUserUnknown, .permanentUser, .recipient),
        (ProviderReplies.yahooUserUnknown, .permanentUser, .recipient),
        (ProviderReplies.microsoftUserUnknown, .permanentUser, .recipient),
        ("550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup", .permanentUser, .recipient),
        ("550 5.2.1 The email account that you tried to reach is disabled.", .permanentUser, .recipient),
        ("550 5.1.2 Host unknown", .permanentUser, .recipient),
        (ProviderReplies.gmailBlock, .permanentPolicy, .ip),
        (ProviderReplies.yahooBlock, .permanentPolicy, .ip),
        (ProviderReplies.microsoftBlock, .permanentPolicy, .ip),
        ("550 5.7.26 Unauthenticated email from example.com is not accepted due to domain's DMARC policy", .permanentPolicy, .sender),
        ("554 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org", .permanentPolicy, .ip),
        ("552 5.3.4 Message size exceeds fixed maximum message size", .permanentMessage, .message),
        ("552 5.2.2 The email account that you tried to reach is over quota.", .permanentMessage, .recipient),
        ("250 2.0.0 OK 1700000000 x1si", .success, .message),
    ])
    func classification(text: String, expected: ReplyClass, scope: ReplyScope) throws {
        let reply = try #require(SMTPReply(parsing: text))
        #expect(reply.classification.replyClass == expected, "\(text)")
        #expect(reply.classification.scope == scope, "\(text)")
    }

    @Test func localConnectionFailuresAreTemporaryForTheConnection() {
        let reply = SMTPReply(code: 421, enhancedStatus: "4.4.1", text: "kiln: no connection", isLocal: true)
        #expect(reply.classification == ReplyClassification(.temporary, scope: .connection, reason: .networkError, rule: "local"))
    }
}

/// What is stored of a reply: at most 4 KB of its text, cut between characters.
@Suite struct StoredReplyTests {
    @Test func aLongReplyIsCutToFourKilobytesAtACharacterBoundary() throws {
        let long = SMTPReply(code: 550, enhancedStatus: "5.1.1", text: String(repeating: "é", count: 50_000))
        let stored = long.bounded()
        #expect(stored.text.utf8.count <= SMTPReply.storedTextLimit)
        #expect(stored.text.hasSuffix("…"))
        #expect(stored.text.dropLast().allSatisfy { $0 == "é" })
        #expect(stored.code == 550 && stored.enhancedStatus == "5.1.1")
        let short = SMTPReply(code: 250, text: "OK")
        #expect(short.bounded() == short)
    }
}
