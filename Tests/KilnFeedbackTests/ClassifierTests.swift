import KilnFeedback
import Testing

@Suite struct ClassifierTests {
    func classify(_ text: String) -> FeedbackReport {
        FeedbackClassifier.classify(Array(text.replacingOccurrences(of: "\n", with: "\r\n").utf8))
    }

    func dsn(status: String, diagnostic: String, action: String = "failed", recipient: String = "ann@example.net") -> String {
        """
        From: Mail Delivery System <MAILER-DAEMON@mx.example.org>
        To: b+42@bounce.example.com
        Subject: Undelivered Mail Returned to Sender
        MIME-Version: 1.0
        Content-Type: multipart/report; report-type=delivery-status; boundary="B"

        --B
        Content-Type: text/plain

        This is the mail system at host mx.example.org.

        --B
        Content-Type: message/delivery-status

        Reporting-MTA: dns; mx.example.org

        Final-Recipient: rfc822; \(recipient)
        Action: \(action)
        Status: \(status)
        Diagnostic-Code: smtp; \(diagnostic)

        --B
        Content-Type: message/rfc822

        Return-Path: <b+42@bounce.example.com>
        From: news@example.com
        To: \(recipient)
        Message-ID: <m42@example.com>
        Feedback-ID: spring:news:bulk:Kiln
        Subject: Hello

        Hi
        --B--
        """
    }

    @Test func aUserUnknownDSNIsAPermanentBounceTracedToTheOriginal() {
        let report = classify(dsn(status: "5.1.1", diagnostic: "550 5.1.1 <ann@example.net>: Recipient address rejected: User unknown in local recipient table"))
        #expect(report.type == .bounce)
        #expect(report.recipients.count == 1)
        #expect(report.recipients[0].address == "ann@example.net")
        #expect(report.recipients[0].status == "5.1.1")
        #expect(report.recipients[0].permanent)
        #expect(report.reason == "userunknown")
        #expect(report.originalMessageID == "<m42@example.com>")
        #expect(report.originalReturnPath == "b+42@bounce.example.com")
        #expect(report.originalFeedbackID == "spring:news:bulk:Kiln")
    }

    @Test(arguments: [
        ("5.2.2", "552 5.2.2 Mailbox full", "mailboxfull"),
        ("5.7.1", "550 5.7.1 Service unavailable; client [192.0.2.1] blocked using zen.spamhaus.org", "blocked"),
        ("5.7.26", "550 5.7.26 Unauthenticated email from example.com is not accepted due to domain's DMARC policy", "authfailure"),
        ("4.4.7", "Delivery time expired", "expired"),
        ("5.3.4", "552 5.3.4 Message size exceeds fixed limit", "mesgtoobig"),
        ("5.7.1", "554 5.7.1 Message rejected as spam", "spamdetected"),
    ])
    func policyContentFullMailboxAndExpiryAreNotPermanent(status: String, diagnostic: String, reason: String) {
        let report = classify(dsn(status: status, diagnostic: diagnostic))
        #expect(report.type == .bounce)
        #expect(report.recipients.first?.permanent == false)
        #expect(report.recipients.first?.reason == reason)
    }

    @Test func aDomainThatDoesNotExistOrMovedIsPermanent() {
        #expect(classify(dsn(status: "5.1.2", diagnostic: "Host or domain name not found. Name service error for name=nowhere.example")).recipients.first?.permanent == true)
        #expect(classify(dsn(status: "5.1.6", diagnostic: "551 5.1.6 User has moved; please try <ann@new.example>")).recipients.first?.reason == "hasmoved")
        #expect(classify(dsn(status: "5.1.10", diagnostic: "556 5.1.10 Recipient address has null MX")).recipients.first?.permanent == true)
    }

    @Test func aTemporaryFailureIsNeverPermanent() {
        let report = classify(dsn(status: "4.1.1", diagnostic: "450 4.1.1 <ann@example.net>: Recipient address rejected: unverified address", action: "delayed"))
        #expect(report.recipients.first?.permanent == false)
    }

    @Test func aSuccessDSNIsADeliveryNotice() {
        let report = classify(dsn(status: "2.0.0", diagnostic: "250 2.0.0 OK", action: "delivered"))
        #expect(report.type == .delivery)
    }

    @Test func anARFReportIsAComplaintWithItsTypeAndRecipient() {
        let report = classify("""
        From: fbl@isp.example
        To: fbl@example.com
        Subject: FW: Hello
        MIME-Version: 1.0
        Content-Type: multipart/report; report-type=feedback-report; boundary="R"

        --R
        Content-Type: text/plain

        This is an email abuse report.
        --R
        Content-Type: message/feedback-report

        Feedback-Type: abuse
        User-Agent: SomeGenerator/1.0
        Version: 1
        Original-Mail-From: <b+42@bounce.example.com>
        Original-Rcpt-To: <bob@isp.example>

        --R
        Content-Type: message/rfc822

        From: news@example.com
        To: bob@isp.example
        Message-ID: <m43@example.com>
        Subject: Hello

        Hi
        --R--
        """)
        #expect(report.type == .complaint)
        #expect(report.feedbackType == "abuse")
        #expect(report.recipients.map(\.address) == ["bob@isp.example"])
        #expect(report.recipients.allSatisfy { !$0.permanent })
        #expect(report.originalMessageID == "<m43@example.com>")
        #expect(report.originalReturnPath == "b+42@bounce.example.com")
    }

    @Test func anSNSWrappedSESBounceAndComplaintAreRead() {
        let bounce = """
        {"Type" : "Notification", "Message" : "{\\"notificationType\\":\\"Bounce\\",\\"bounce\\":{\\"bounceType\\":\\"Permanent\\",\\"bounceSubType\\":\\"General\\",\\"bouncedRecipients\\":[{\\"emailAddress\\":\\"ann@example.net\\",\\"action\\":\\"failed\\",\\"status\\":\\"5.1.1\\",\\"diagnosticCode\\":\\"smtp; 550 5.1.1 user unknown\\"}]},\\"mail\\":{\\"messageId\\":\\"0100abc\\",\\"source\\":\\"b+7@bounce.example.com\\"}}"}
        """
        let report = FeedbackClassifier.classify(Array(bounce.utf8))
        #expect(report.type == .bounce)
        #expect(report.recipients.first?.address == "ann@example.net")
        #expect(report.recipients.first?.permanent == true)
        #expect(report.originalReturnPath == "b+7@bounce.example.com")

        let complaint = #"{"notificationType":"Complaint","complaint":{"complainedRecipients":[{"emailAddress":"bob@example.net"}],"complaintFeedbackType":"abuse"},"mail":{"messageId":"0100abd"}}"#
        let second = FeedbackClassifier.classify(Array(complaint.utf8))
        #expect(second.type == .complaint)
        #expect(second.feedbackType == "abuse")
        #expect(second.recipients.first?.address == "bob@example.net")
    }

    @Test func aQmailStyleBounceWithoutMIMEIsRead() {
        let report = classify("""
        From: MAILER-DAEMON@mx.example.org
        To: b+9@bounce.example.com
        Subject: failure notice

        Hi. This is the qmail-send program at mx.example.org.
        I'm afraid I wasn't able to deliver your message to the following addresses.
        This is a permanent error; I've given up. Sorry it didn't work out.

        <carol@example.net>:
        Sorry, no mailbox here by that name. (#5.1.1)

        <dave@example.net>:
        552 5.2.2 Mailbox quota exceeded

        --- Below this line is a copy of the message.

        Return-Path: <b+9@bounce.example.com>
        From: news@example.com
        To: carol@example.net
        Subject: Hello

        Hi
        """)
        #expect(report.type == .bounce)
        #expect(report.recipients.map(\.address) == ["carol@example.net", "dave@example.net"])
        #expect(report.recipients.map(\.permanent) == [true, false])
        #expect(report.originalReturnPath == "b+9@bounce.example.com")
    }

    @Test func anOutOfOfficeReplyIsAnAutoReplyNotABounce() {
        let report = classify("""
        From: Erin <erin@example.net>
        To: news@example.com
        Subject: Automatic reply: Hello
        Auto-Submitted: auto-replied

        I am out of the office until Monday.
        """)
        #expect(report.type == .autoReply)
        #expect(report.recipients.allSatisfy { !$0.permanent })
    }

    @Test func anOrdinaryMessageIsUnknown() {
        #expect(classify("From: a@example.net\nTo: b@example.com\nSubject: lunch?\n\nNoon?\n").type == .unknown)
    }

    @Test func garbageNeverCrashes() {
        for input in ["", "\r\n\r\n", "Content-Type: multipart/report\r\n\r\n--", String(repeating: "@", count: 5000),
                      "Content-Type: message/delivery-status\r\n\r\nFinal-Recipient:\r\nAction:"] {
            _ = FeedbackClassifier.classify(Array(input.utf8))
        }
        _ = FeedbackClassifier.classify([0xFF, 0xFE, 0x00, 0x41, 0x40, 0x2E])
    }
}
