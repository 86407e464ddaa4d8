import KilnCore
@testable import KilnSMTP
import Testing

/// The deciding reply is found in the raw transcript curl's debug callback collects.
@Suite struct SMTPReplyCaptureTests {
    static func bytes(_ lines: [String], separator: String = "\r\n") -> [UInt8] {
        Array((lines.joined(separator: separator) + separator).utf8)
    }

    static let freshConnection = [
        "220 mx.example.net ESMTP ready",
        "250-mx.example.net greets you",
        "250-PIPELINING",
        "250-SIZE 35882577",
        "250 8BITMIME",
        "250 2.1.0 OK",
        "250 2.1.5 OK",
        "354 Go ahead",
    ]

    @Test func theLastReplyOfATransactionDecidesIt() {
        let transcript = Self.bytes(Self.freshConnection + ["250 2.0.0 OK 1700000000 queued as 4F2A"])
        #expect(SMTPReplyCapture.decidingReply(in: transcript) == SMTPReply(code: 250, enhancedStatus: "2.0.0", text: "OK 1700000000 queued as 4F2A"))
        #expect(SMTPReplyCapture.allReplies(in: transcript).map(\.code) == [220, 250, 250, 250, 354, 250])
    }

    @Test func aMultiLineRefusalIsReadWhole() {
        let transcript = Self.bytes(Self.freshConnection.prefix(5) + [
            "550-5.7.1 [192.0.2.10] Our system has detected that this message is",
            "550-5.7.1 likely unsolicited mail. To reduce the amount of spam sent",
            "550 5.7.1 to Gmail, this message has been blocked.",
        ])
        let reply = SMTPReplyCapture.decidingReply(in: transcript)
        #expect(reply?.code == 550)
        #expect(reply?.enhancedStatus == "5.7.1")
        #expect(reply?.text == "[192.0.2.10] Our system has detected that this message is likely unsolicited mail. To reduce the amount of spam sent to Gmail, this message has been blocked.")
    }

    @Test func theQuitAfterAFailureIsPassedOver() {
        let transcript = Self.bytes(Self.freshConnection.prefix(6) + [
            "451 4.7.500 Server busy. Please try again later.",
            "221 2.0.0 Bye",
        ])
        #expect(SMTPReplyCapture.decidingReply(in: transcript)?.code == 451)
        #expect(SMTPReplyCapture.lastReply(in: transcript)?.code == 221)
        // A 221 alone is still a reply.
        #expect(SMTPReplyCapture.decidingReply(in: Self.bytes(["221 closing"]))?.code == 221)
    }

    @Test(arguments: ["\r\n", "\n", "\r"])
    func anyLineEndSeparatesReplies(separator: String) {
        let transcript = Self.bytes(["250-first", "250 second", "421 4.7.0 Try again later"], separator: separator)
        #expect(SMTPReplyCapture.allReplies(in: transcript) == [
            SMTPReply(code: 250, text: "first second"),
            SMTPReply(code: 421, enhancedStatus: "4.7.0", text: "Try again later"),
        ])
    }

    @Test func aReplyCutOffBeforeItsLastLineIsNotTaken() {
        let transcript = Self.bytes(["250 2.1.0 OK", "452-4.2.2 The mailbox is full,", "452-4.2.2 try later"])
        #expect(SMTPReplyCapture.decidingReply(in: transcript)?.code == 250)
        #expect(SMTPReplyCapture.decidingReply(in: []) == nil)
        #expect(SMTPReplyCapture.decidingReply(in: Array("* not a reply\r\n25\r\n".utf8)) == nil)
    }

    @Test func linesThatAreNotRepliesAreLeftOut() {
        let transcript = Self.bytes(["250 2.1.5 OK", "", "garbage from a broken server", "554 5.7.1 Rejected"])
        #expect(SMTPReplyCapture.allReplies(in: transcript).map(\.code) == [250, 554])
    }
}
