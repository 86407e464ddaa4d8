import Foundation
import KilnCore
import Testing

/// Promises that hold for every reply, checked over replies made from every rule's own
/// phrases, every RFC 3463 subject, and every provider.
@Suite struct ReplyPropertyTests {
    /// Two phrases of every rule (every rule is reached), and replies with no phrase.
    static let phrases: [String] = ReplyRules.all.flatMap { $0.text.prefix(2) } + ["", "requested action not taken", "service unavailable"]
    static let providers: [MailboxProvider?] = [nil, .gmail]

    /// A status of every RFC 3463 subject, the registry's authentication and rate
    /// statuses, Microsoft's, and none.
    static func statuses(classDigit: Int) -> [String?] {
        [nil] + ["0.0", "1.0", "1.1", "1.2", "1.7", "1.8", "2.0", "2.1", "2.2", "3.0", "3.2", "4.5", "4.7", "5.3", "6.0",
                 "7.0", "7.1", "7.17", "7.23", "7.25", "7.26", "7.28", "7.515", "7.650"].map { "\(classDigit).\($0)" }
    }

    @Test func noTransientReplyIsEverPermanent() {
        var checked = 0
        for code in [421, 450] {
            for status in Self.statuses(classDigit: 4) {
                for phrase in Self.phrases {
                    let reply = SMTPReply(code: code, enhancedStatus: status, text: "refused: \(phrase)")
                    for provider in Self.providers {
                        let c = reply.classification(provider: provider)
                        checked += 1
                        if [.permanentUser, .permanentPolicy, .permanentMessage].contains(c.replyClass) {
                            Issue.record("\(reply) from \(provider?.id ?? "-") is \(c.replyClass.rawValue) by \(c.rule)")
                            return
                        }
                    }
                }
            }
        }
        #expect(checked > 10_000)
    }

    @Test func noSecurityOrPolicyStatusIsEverTheAddress() {
        var checked = 0
        for code in [550, 554, 450] {
            for detail in [0, 1, 2, 9, 17, 23, 26, 27, 515, 606] {
                for phrase in Self.phrases {
                    let reply = SMTPReply(code: code, enhancedStatus: "\(code / 100).7.\(detail)", text: phrase)
                    checked += 1
                    let c = reply.classification
                    if c.replyClass == .permanentUser {
                        Issue.record("\(reply) is permanent-user by \(c.rule)")
                        return
                    }
                }
            }
        }
        #expect(checked > 3_000)
    }

    /// The status found in the text (X.7.x after a `#`, in brackets) keeps the promise too.
    @Test func aSecurityStatusFoundInTheTextIsNeverTheAddress() throws {
        for text in ["550 Recipient address rejected: user unknown (#5.7.1)", "550 user unknown [5.7.1]", "550 No such user 5.7.1"] {
            let reply = try #require(SMTPReply(parsing: text))
            #expect(reply.enhancedStatus == "5.7.1", "\(text)")
            #expect(reply.classification.replyClass != .permanentUser, "\(text)")
        }
    }

    @Test func senderStatusesNeverSuppressTheRecipient() {
        for code in [550, 553, 451] {
            for detail in [7, 8] {
                for phrase in Self.phrases {
                    let reply = SMTPReply(code: code, enhancedStatus: "\(code / 100).1.\(detail)", text: phrase)
                    let c = reply.classification
                    #expect(c.replyClass != .permanentUser, "\(reply) by \(c.rule)")
                }
            }
        }
    }
}

@Suite struct EnhancedStatusTests {
    @Test(arguments: [
        ("550-5.7.1 [192.0.2.10] blocked\r\n550 5.7.1 more", "5.7.1"),
        ("550 #5.1.0 Address rejected.", "5.1.0"),
        ("554 Message rejected [5.7.1] due to content", "5.7.1"),
        ("550 Message rejected due to spam content (#5.7.1)", "5.7.1"),
        ("550 Requested action not taken: mailbox unavailable 5.1.1", "5.1.1"),
        ("451 Try again later (4.4.5).", "4.4.5"),
        ("554-mx.example.net\r\n554-No SMTP service\r\n554 5.7.1 IP address is block listed", "5.7.1"),
        ("451-First line without status\r\n451-4.7.1 the second line has it\r\n451 last line", "4.7.1"),
    ])
    func statusFoundWhereProvidersPutIt(_ raw: String, _ status: String) throws {
        let reply = try #require(SMTPReply(parsing: raw))
        #expect(reply.enhancedStatus == status)
    }

    @Test(arguments: [
        "550 Connection from [192.0.2.10] refused",
        "451 Exim 4.92.3 temporary failure",
        "550 message 5.7.1.2 is odd",
        "550 mailbox unavailable 4.7.1",
        "421 4.16.55.1 deferred",
    ])
    func noStatusMadeUpFromNumbers(_ raw: String) throws {
        let reply = try #require(SMTPReply(parsing: raw))
        #expect(reply.enhancedStatus == nil, "\(raw) gave \(reply.enhancedStatus ?? "-")")
    }

    @Test func aReplyWithoutStatusIsReadFromItsCodeAndText() throws {
        let reply = try #require(SMTPReply(parsing: "550 no such user here"))
        #expect(reply.enhancedStatus == nil)
        #expect(reply.classification.replyClass == .permanentUser)
        let bare = try #require(SMTPReply(parsing: "554 Transaction failed"))
        #expect(bare.classification.rule == "fallback")
        #expect(bare.classification.replyClass == .permanentMessage)
    }
}
