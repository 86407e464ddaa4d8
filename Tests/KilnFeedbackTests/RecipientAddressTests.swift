import KilnFeedback
import Testing

/// A bounce names the address Kiln sent to: a DSN's Original-Recipient over an internal
/// Final-Recipient, and never an address from the report's boilerplate (postmaster@, a
/// list's owner) or with Exchange's `smtp=` glued on.
@Suite struct RecipientAddressTests {
    func classify(_ text: String) -> FeedbackReport {
        FeedbackClassifier.classify(Array(text.replacingOccurrences(of: "\n", with: "\r\n").utf8))
    }

    /// A DSN with one recipient group made of `fields`.
    func dsn(_ fields: String) -> String {
        """
        From: Mail Delivery System <MAILER-DAEMON@mx.example.org>
        To: b+42@bounce.example.com
        Subject: Undelivered Mail Returned to Sender
        MIME-Version: 1.0
        Content-Type: multipart/report; report-type=delivery-status; boundary="B"

        --B
        Content-Type: text/plain

        Your message could not be delivered.

        --B
        Content-Type: message/delivery-status

        Reporting-MTA: dns; mx.example.org

        \(fields)

        --B--
        """
    }

    /// A non-standard bounce: no DSN part, only `body` (and `headers`, if any).
    func plainBounce(_ body: String, headers: String = "") -> String {
        """
        From: MAILER-DAEMON@mx.example.org
        To: b+42@bounce.example.com
        Subject: Undeliverable: spring sale\(headers.isEmpty ? "" : "\n" + headers)

        \(body)
        """
    }

    @Test(arguments: [
        "rfc822; userx@sims-ms-daemon",   // a host without a dot
        "rfc822; userx",                  // a local-only form
        "rfc822; @smtp.example.org:userx@server", // a source route to an internal host
        "rfc822; user@example.com",
    ])
    func anOriginalRecipientIsTheAddressKilnSentTo(final: String) throws {
        for fields in [
            "Final-Recipient: \(final)\nOriginal-Recipient: rfc822; user@example.com\nAction: failed\nStatus: 5.1.1",
            "Original-Recipient: rfc822;User@Example.com\nFinal-Recipient: \(final)\nAction: failed\nStatus: 5.1.1",
        ] {
            let report = classify(dsn(fields))
            #expect(report.type == .bounce)
            let recipient = try #require(report.recipients.first)
            #expect(report.recipients.count == 1)
            #expect(recipient.address.lowercased() == "user@example.com")
            #expect(recipient.originalAddress?.lowercased() == "user@example.com")
            #expect(recipient.permanent)
        }
    }

    /// An Original-Recipient that could not have been mailed yields to the Final-Recipient.
    @Test(arguments: ["rfc822; userx@localhost", "rfc822; userx", "unknown; <junk>", "rfc822; ann@example.com (alias)"])
    func anOriginalRecipientThatIsNoAddressYieldsToTheFinalRecipient(original: String) throws {
        let report = classify(dsn("Original-Recipient: \(original)\nFinal-Recipient: rfc822; ann@example.net\nAction: failed\nStatus: 5.1.1"))
        #expect(report.recipients.map(\.address) == ["ann@example.net"])
    }

    @Test func anXActualRecipientIsTheLastChoice() throws {
        let report = classify(dsn("X-Actual-Recipient: rfc822; ann@example.net\nAction: failed\nStatus: 5.1.1"))
        #expect(report.recipients.map(\.address) == ["ann@example.net"])
        let both = classify(dsn("Final-Recipient: rfc822; bob@example.net\nX-Actual-Recipient: rfc822; ann@example.net\nAction: failed\nStatus: 5.1.1"))
        #expect(both.recipients.map(\.address) == ["bob@example.net"])
    }

    /// Groups run together without blank lines still split per recipient, whichever of
    /// Original- and Final-Recipient comes first.
    @Test func recipientGroupsRunTogetherKeepTheirOwnOriginalRecipient() throws {
        let originalFirst = classify(dsn("""
            Original-Recipient: rfc822; ann@example.com
            Final-Recipient: rfc822; ann@mailhub
            Action: failed
            Status: 5.1.1
            Original-Recipient: rfc822; bob@example.com
            Final-Recipient: rfc822; bob@mailhub
            Action: failed
            Status: 5.2.2
            """))
        #expect(originalFirst.recipients.map(\.address) == ["ann@example.com", "bob@example.com"])
        #expect(originalFirst.recipients.map(\.status) == ["5.1.1", "5.2.2"])
        let finalFirst = classify(dsn("""
            Final-Recipient: rfc822; ann@mailhub
            Original-Recipient: rfc822; ann@example.com
            Action: failed
            Status: 5.1.1
            Final-Recipient: rfc822; bob@mailhub
            Original-Recipient: rfc822; bob@example.com
            Action: failed
            Status: 5.2.2
            """))
        #expect(finalFirst.recipients.map(\.address) == ["ann@example.com", "bob@example.com"])
        #expect(finalFirst.recipients.map(\.status) == ["5.1.1", "5.2.2"])
    }

    @Test func aPostmasterInTheBoilerplateIsNotAFailedRecipient() throws {
        let report = classify(plainBounce("""
            Delivery to the following recipient failed permanently:

                bob@example.net

            550 5.1.1 The email account that you tried to reach does not exist.

            If you need help, please contact postmaster@example.org.
            """))
        #expect(report.type == .bounce)
        #expect(report.recipients.map(\.address) == ["bob@example.net"])
    }

    @Test(arguments: ["smtp=carol@example.com", "SMTP=carol@example.com", "SMTP:carol@example.com", "<SMTP:carol@example.com>"])
    func anExchangeAddressTypeIsNotPartOfTheAddress(written: String) throws {
        let report = classify(plainBounce("""
            Delivery has failed to these recipients or groups:

            \(written)
            The email address you entered couldn't be found. 550 5.1.1 RESOLVER.ADR.RecipNotFound; not found
            """))
        #expect(report.recipients.map(\.address) == ["carol@example.com"])
        let header = classify(plainBounce("Delivery has failed.", headers: "X-Failed-Recipients: \(written)"))
        #expect(header.recipients.map(\.address) == ["carol@example.com"])
    }

    @Test func anExchangeOriginalRecipientWithItsAddressTypeIsStillTheAddress() throws {
        let report = classify(dsn("Original-Recipient: rfc822;smtp=carol@example.com\nFinal-Recipient: rfc822; carol@mailhub\nAction: failed\nStatus: 5.1.1"))
        #expect(report.recipients.map(\.address) == ["carol@example.com"])
    }

    /// A bounce whose only address is a contact in its boilerplate names no recipient.
    @Test(arguments: [
        "If you have questions, please contact postmaster@example.org.",
        "For assistance, write to abuse@example.org or call us.",
        "Questions? Contact\npostmaster@example.org",
        "Report problems to the list owner: spring-owner@lists.example.org",
        "To stop these messages, reply to spring-request@lists.example.org",
    ])
    func aBounceWhoseOnlyAddressIsBoilerplateNamesNoRecipient(boilerplate: String) throws {
        let report = classify(plainBounce("""
            Your message could not be delivered: 550 5.1.1 user unknown.

            \(boilerplate)
            """))
        #expect(report.type == .bounce)
        #expect(report.recipients.isEmpty)
    }

    /// Role addresses among other candidates are skipped, in the text and in X-Failed-Recipients.
    @Test func roleAddressesBesideARecipientAreSkipped() throws {
        let text = classify(plainBounce("""
            Delivery to the following recipients failed:

            listmaster@lists.example.org
            dan@example.net: 550 5.1.1 user unknown
            owner-spring@lists.example.org
            """))
        #expect(text.recipients.map(\.address) == ["dan@example.net"])
        let header = classify(plainBounce("Delivery has failed.", headers: "X-Failed-Recipients: spring-owner@lists.example.org, dan@example.net"))
        #expect(header.recipients.map(\.address) == ["dan@example.net"])
    }

    /// A role address that is itself the address that failed (a message sent to
    /// postmaster@) is still named: alone in X-Failed-Recipients, or alone in the text
    /// outside any boilerplate.
    @Test func aRoleAddressThatFailedIsStillNamed() throws {
        let header = classify(plainBounce("Delivery has failed.", headers: "X-Failed-Recipients: postmaster@example.org"))
        #expect(header.recipients.map(\.address) == ["postmaster@example.org"])
        let text = classify(plainBounce("""
            There was an error delivering your mail to <postmaster@example.org>.

            DNS lookup failure: host example.org not found
            """))
        #expect(text.recipients.map(\.address) == ["postmaster@example.org"])
    }
}
