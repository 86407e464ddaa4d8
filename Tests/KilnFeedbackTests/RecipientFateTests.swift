import KilnFeedback
import Testing

/// Each recipient's fate comes from its own status and diagnostic; a 4xx or an expiry is
/// never permanent; the report's general words never make every recipient permanent.
@Suite struct RecipientFateTests {
    func classify(_ text: String) -> FeedbackReport {
        FeedbackClassifier.classify(Array(text.replacingOccurrences(of: "\n", with: "\r\n").utf8))
    }

    @Test func severalRecipientsInOneReportKeepTheirOwnFates() throws {
        let report = classify("""
            From: Mail Delivery System <MAILER-DAEMON@mx.example.org>
            To: b+42@bounce.example.com
            Subject: Undelivered Mail Returned to Sender
            MIME-Version: 1.0
            Content-Type: multipart/report; report-type=delivery-status; boundary="B"

            --B
            Content-Type: text/plain

            Delivery to some recipients failed.

            --B
            Content-Type: message/delivery-status

            Reporting-MTA: dns; mx.example.org

            Final-Recipient: rfc822; gone@example.net
            Action: failed
            Status: 5.1.1
            Diagnostic-Code: smtp; 550 5.1.1 <gone@example.net>: Recipient address rejected: User unknown

            Final-Recipient: rfc822; full@example.net
            Action: failed
            Status: 5.2.2
            Diagnostic-Code: smtp; 552 5.2.2 <full@example.net>: mailbox full

            Final-Recipient: rfc822; slow@example.net
            Action: delayed
            Status: 4.1.1
            Diagnostic-Code: smtp; 450 4.1.1 <slow@example.net>: Recipient address rejected: User unknown in local recipient table

            Final-Recipient: rfc822; late@example.net
            Action: failed
            Status: 4.4.7
            Diagnostic-Code: smtp; 550 5.1.1 user unknown

            --B--
            """)
        #expect(report.type == .bounce)
        let fates = Dictionary(uniqueKeysWithValues: report.recipients.map { ($0.address, $0) })
        #expect(fates["gone@example.net"]?.permanent == true)
        #expect(fates["gone@example.net"]?.rule == "status:5.1.1")
        #expect(fates["full@example.net"]?.permanent == false)
        #expect(fates["full@example.net"]?.reason == "mailboxfull")
        #expect(fates["slow@example.net"]?.permanent == false, "a 4xx is never permanent")
        #expect(fates["late@example.net"]?.permanent == false, "an expired delivery is never permanent")
        #expect(fates["late@example.net"]?.reason == "expired")
    }

    @Test func aRecipientNamedOnlyInTheTextGetsItsOwnLines() throws {
        let report = classify("""
            From: MAILER-DAEMON@mx.example.org
            To: b+42@bounce.example.com
            Subject: failure notice

            Hi. This is the qmail-send program at mx.example.org.
            I'm afraid I wasn't able to deliver your message to the following addresses.
            This is a permanent error; I've given up. Sorry it didn't work out.

            <gone@example.net>:
            192.0.2.1 does not like recipient.
            Remote host said: 550 5.1.1 <gone@example.net>... User unknown

            <full@example.net>:
            192.0.2.1 does not like recipient.
            Remote host said: 552 5.2.2 <full@example.net>... Mailbox full

            --- Below this line is a copy of the message.

            Return-Path: <b+42@bounce.example.com>
            From: news@example.com
            Subject: Hello
            """)
        let fates = Dictionary(uniqueKeysWithValues: report.recipients.map { ($0.address, $0) })
        #expect(fates.count == 2)
        #expect(fates["gone@example.net"]?.permanent == true)
        #expect(fates["full@example.net"]?.permanent == false)
        #expect(fates["full@example.net"]?.reason == "mailboxfull")
    }

    @Test func theReportsGeneralWordsDoNotMakeEveryRecipientPermanent() throws {
        // Two recipients, no line of its own for either: only the general text says "user unknown".
        let report = classify("""
            From: MAILER-DAEMON@mx.example.org
            To: b+42@bounce.example.com
            Subject: Returned mail: see transcript for details
            X-Failed-Recipients: one@example.net, two@example.net

            The original message was rejected: 550 User unknown.
            """)
        #expect(report.recipients.count == 2)
        #expect(report.recipients.allSatisfy { !$0.permanent })
        #expect(report.recipients.allSatisfy { $0.rule?.hasSuffix("@whole-text") == true })
    }

    @Test func eximsNullMXWordingIsADomainThatTakesNoMail() throws {
        let report = classify("""
            From: Mail Delivery System <Mailer-Daemon@mx.example.org>
            To: b+42@bounce.example.com
            Subject: Mail delivery failed: returning message to sender
            X-Failed-Recipients: neko@example.net

            This message was created automatically by mail delivery software.

            A message that you sent could not be delivered to one or more of its
            recipients. This is a permanent error. The following address(es) failed:

              neko@example.net
                an MX or SRV record indicated no SMTP service
            """)
        let recipient = try #require(report.recipients.first)
        // One vocabulary with SMTP replies: a domain that takes no mail is `hostunknown`
        // (RFC 7505 X.1.10), as `550 5.1.10 ... null MX` is.
        #expect(recipient.reason == "hostunknown")
        #expect(recipient.permanent)
    }
}
