import Foundation
import KilnCore
import KilnSubmission
import Testing

/// The SMTP submission listener against a real client (Python's smtplib, or a raw socket)
/// on loopback, with a fake backend.
@Suite struct SMTPSubmissionServerTests {
    typealias Step = PythonSMTPClient.Step

    static let loggedIn: [Step] = [.ehlo, .starttls, .ehlo, .login("app", "s3cret")]
    static let plainResponse = Data("\u{0}app\u{0}s3cret".utf8).base64EncodedString()

    @Test func hundredMessagesOverSTARTTLSWithAuthAreQueuedInTheBackend() async throws {
        try await ListenerFixture.with { fixture in
            let results = try await fixture.client(Self.loggedIn + [.send(count: 100), .quit]).run()
            try #require(results.count == 6 + 100, "\(results)")
            #expect(results[0].code == 220 && results[0].text == "localhost ESMTP Kiln")
            #expect(results[1].text?.contains("STARTTLS") == true && results[1].text?.contains("AUTH") == false)
            #expect(results[1].text?.contains("SIZE 26214400") == true && results[1].text?.contains("PIPELINING") == true)
            #expect(results[2].code == 220)
            #expect(results[3].text?.contains("AUTH PLAIN LOGIN") == true && results[3].text?.contains("STARTTLS") == false)
            #expect(results[4].code == 235 && results[4].text == "2.7.0 Authentication successful")
            for (index, send) in results[5..<105].enumerated() {
                #expect(send.codes == [250, 250, 250], "\(send)")
                #expect(send.text == "2.0.0 Ok: queued as \(index + 1)", "\(send)")
            }
            #expect(results[105].code == 221)
            let submitted = fixture.backend.submitted
            #expect(submitted.count == 100)
            #expect(submitted.allSatisfy {
                $0.principal == Principal(tenant: "default", credential: "app") && $0.mailFrom == "news@example.com" && $0.recipients == ["rcpt@example.net"]
            })
            #expect(submitted.first?.text == PythonSMTPClient.message)
            #expect(fixture.messagesCounted("accepted") == 100)
            #expect(fixture.messagesCounted("refused") == 0)
            #expect(try fixture.metrics.expectCounter("kiln_submission_sessions_total", [("listener", "smtp")]).totalValue == 1)
        }
    }

    @Test(arguments: [true, false])
    func authBeforeSTARTTLSIsRefusedWith538(tlsConfigured: Bool) async throws {
        try await ListenerFixture.with(tls: tlsConfigured) { fixture in
            let results = try await fixture.client([.ehlo, .command("AUTH PLAIN \(Self.plainResponse)"), .command("STARTTLS")]).run()
            #expect(results[1].text?.contains("AUTH") == false)
            #expect(results[1].text?.contains("STARTTLS") == tlsConfigured)
            #expect(results[2].code == 538 && results[2].text == "5.7.11 Must issue a STARTTLS command first", "\(results)")
            #expect(results[3].code == (tlsConfigured ? 220 : 502))
            #expect(fixture.backend.logins.isEmpty)
        }
    }

    @Test(arguments: [false, true])
    func mailWithoutAuthenticationNeedsATrustedNetwork(trusted: Bool) async throws {
        try await ListenerFixture.with(backend: FakeSubmissionBackend(trustsLoopback: trusted)) { fixture in
            let results = try await fixture.client([.ehlo, .send()]).run()
            if trusted {
                #expect(results[2].codes == [250, 250, 250], "\(results)")
                #expect(fixture.backend.submitted.first?.principal == Principal(tenant: "default", credential: nil))
            } else {
                #expect(results[2].codes == [530] && results[2].text == "5.7.0 Authentication required", "\(results)")
                #expect(fixture.backend.submitted.isEmpty)
            }
        }
    }

    @Test func aWrongPasswordIsRefusedWith535() async throws {
        try await ListenerFixture.with { fixture in
            let results = try await fixture.client([.ehlo, .starttls, .ehlo, .login("app", "wrong"), .send()]).run()
            #expect(results[4].code == 535 && results[4].text?.hasPrefix("5.7.8 ") == true, "\(results)")
            #expect(results[5].codes == [530])
            // smtplib tries PLAIN, then LOGIN: both reach the backend, from the client's address.
            #expect(fixture.backend.logins == [.init(name: "app", peer: "127.0.0.1"), .init(name: "app", peer: "127.0.0.1")])
        }
    }

    @Test func authLoginCancelAndBadBase64() async throws {
        try await ListenerFixture.with { fixture in
            let results = try await fixture.client([
                .ehlo, .starttls, .ehlo,
                .command("AUTH LOGIN"), .command("*"),
                .command("AUTH PLAIN"), .command("not base64!"),
                .command("AUTH CRAM-MD5"),
                .authLogin("app", "s3cret"),
                .command("AUTH PLAIN \(Self.plainResponse)"),
                .send(),
            ]).run()
            let codes = results[4...].map { $0.code ?? $0.codes?.last ?? 0 }
            #expect(codes == [334, 501, 334, 501, 504, 235, 503, 250], "\(results)")
            #expect(results[4].text == "VXNlcm5hbWU6")
            #expect(results[5].text?.hasPrefix("5.0.0 ") == true)
            #expect(results[7].text?.hasPrefix("5.5.2 ") == true)
            #expect(results[10].text?.hasPrefix("5.5.1 ") == true)
        }
    }

    @Test func aForbiddenEnvelopeSenderIsRefusedWith550() async throws {
        try await ListenerFixture.with { fixture in
            let results = try await fixture.client(Self.loggedIn + [.send(from: "evil@example.com"), .send(from: ""), .send()]).run()
            #expect(results[5].codes == [550] && results[5].text == "5.7.1 Sender not allowed", "\(results)")
            #expect(results[6].codes == [550], "the null reverse-path goes to the backend as \"\"")
            #expect(results[7].codes == [250, 250, 250])
            #expect(fixture.backend.submitted.count == 1)
        }
    }

    @Test func aMessageOverTheLimitsIsRefusedWith552AndTheSessionGoesOn() async throws {
        let body = String(repeating: String(repeating: "x", count: 76) + "\r\n", count: 300)
        let headers = (0..<60).map { "X-Filler-\($0): \(String(repeating: "y", count: 40))\r\n" }.joined()
        try await ListenerFixture.with({ $0.maxMessageBytes = 10_000; $0.maxHeaderBytes = 2000 }) { fixture in
            let results = try await fixture.client(Self.loggedIn + [
                .send(options: ["SIZE=20000"]),
                .send(message: "Subject: big\r\n\r\n" + body),
                .send(message: "Subject: headers\r\n" + headers + "\r\nbody\r\n"),
                .send(options: ["SIZE=500", "BODY=8BITMIME"]),
            ]).run()
            #expect(results[1].text?.contains("SIZE 10000") == true)
            #expect(results[5].codes == [552] && results[5].text?.hasPrefix("5.3.4 ") == true, "\(results)")
            #expect(results[6].codes == [250, 250, 552] && results[6].text == "5.3.4 Message too big", "\(results)")
            #expect(results[7].codes == [250, 250, 552] && results[7].text == "5.3.4 Header block too big", "\(results)")
            #expect(results[8].codes == [250, 250, 250], "\(results)")
            #expect(fixture.backend.submitted.count == 1)
            #expect(fixture.messagesCounted("refused") == 2)
            #expect(fixture.messagesCounted("accepted") == 1)
        }
    }

    @Test func recipientsOverTheLimitGet452AndTheMessageGoesToTheOthers() async throws {
        let recipients = (1...5).map { "r\($0)@example.net" }
        try await ListenerFixture.with({ $0.maxRecipients = 3 }) { fixture in
            let results = try await fixture.client(Self.loggedIn + [.send(to: recipients)]).run()
            #expect(results[5].codes == [250, 250, 250, 250, 452, 452, 250], "\(results)")
            #expect(results[5].text == "2.0.0 Ok: queued as 1 (3 recipients)")
            #expect(fixture.backend.submitted.first?.recipients == Array(recipients.prefix(3)))
        }
    }

    @Test func overQuotaIsRefusedWith451() async throws {
        try await ListenerFixture.with(backend: FakeSubmissionBackend(overQuota: true)) { fixture in
            let results = try await fixture.client(Self.loggedIn + [.send()]).run()
            #expect(results[5].codes == [250, 250, 451] && results[5].text?.hasPrefix("4.7.1 ") == true, "\(results)")
            #expect(fixture.messagesCounted("refused") == 1)
        }
    }

    @Test func aCredentialBoundElsewhereIsRefusedFromThisSourceWith535() async throws {
        try await ListenerFixture.with(backend: FakeSubmissionBackend(refusedSource: "127.0.0.9")) { fixture in
            let results = try await fixture.client(Self.loggedIn + [.send()], source: "127.0.0.9").run()
            #expect(results[4].code == 535, "\(results)")
            #expect(results[5].codes == [530])
            #expect(!fixture.backend.logins.isEmpty && fixture.backend.logins.allSatisfy { $0.peer == "127.0.0.9" })
        }
    }

    @Test func implicitTLSListenerOffersAuthFromTheFirstCommand() async throws {
        try await ListenerFixture.with(implicitTLS: true) { fixture in
            let results = try await fixture.client([.ehlo, .login("app", "s3cret"), .send(), .quit], implicitTLS: true).run()
            #expect(results[1].text?.contains("AUTH PLAIN LOGIN") == true && results[1].text?.contains("STARTTLS") == false, "\(results)")
            #expect(results[2].code == 235)
            #expect(results[3].codes == [250, 250, 250])
        }
    }

    @Test func commandsRepliesAndErrors() async throws {
        try await ListenerFixture.with(backend: FakeSubmissionBackend(trustsLoopback: true), tls: false, { $0.maxErrors = 50 }) { fixture in
            let steps: [Step] = [
                .command("MAIL FROM:<news@example.com>"), .command("HELO client.example"), .command("NOOP"), .command("RSET"),
                .command("VRFY someone"), .command("FROB"), .command("RCPT TO:<a@example.net>"), .command("DATA"),
                .command("MAIL FROM:<news@example.com> FOO=1"), .command("MAIL FROM:news@example.com"),
                .command("MAIL FROM:<news@example.com> SMTPUTF8"), .command("DATA"), .command("RCPT TO:<not an address>"),
                .command("RCPT TO:<a@example.net> NOTIFY=NEVER"), .command(String(repeating: "N", count: 5000)), .command("QUIT"),
            ]
            let results = try await fixture.client(steps).run()
            let replies = results.dropFirst().map { "\($0.code ?? 0) \(($0.text ?? "").prefix(5))" }
            #expect(replies == [
                "503 5.5.1", "250 local", "250 2.0.0", "250 2.0.0", "252 2.5.0", "500 5.5.2", "503 5.5.1", "503 5.5.1",
                "555 5.5.4", "501 5.5.4", "250 2.1.0", "554 5.5.1", "501 5.1.3", "555 5.5.4", "500 5.5.6", "221 2.0.0",
            ], "\(results)")
        }
    }

    @Test func tooManyErrorsCloseTheSessionWith421() async throws {
        try await ListenerFixture.with({ $0.maxErrors = 3 }) { fixture in
            let results = try await fixture.client([.command("FROB"), .command("FROB"), .command("FROB"), .command("NOOP")]).run()
            #expect(results.dropFirst().map { $0.code ?? 0 } == [500, 500, 500, 421], "\(results)")
        }
    }

    @Test func pipelinedTransactionsInOneWriteAreAnsweredInOrder() async throws {
        let backend = FakeSubmissionBackend(trustsLoopback: true, submitDelay: .milliseconds(50))
        try await ListenerFixture.with(backend: backend, tls: false) { fixture in
            let pipelined = "EHLO client.example\r\nMAIL FROM:<news@example.com>\r\nRCPT TO:<a@example.net>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n"
                + "Subject: one\r\n\r\n..leading dot\r\nbody\r\n.\r\n"
                + "MAIL FROM:<news@example.com>\r\nRCPT TO:<c@example.net>\r\nDATA\r\nSubject: two\r\n\r\nx\r\n.\r\nQUIT\r\n"
            let results = try await fixture.raw([.read(replies: 1), .write(pipelined), .read(replies: 11)]).run()
            #expect(results.map { $0.code ?? 0 } == [220, 250, 250, 250, 250, 354, 250, 250, 250, 354, 250, 221], "\(results)")
            #expect(results[6].text == "250 2.0.0 Ok: queued as 1 (2 recipients)")
            #expect(results[10].text == "250 2.0.0 Ok: queued as 3")
            let submitted = backend.submitted
            #expect(submitted.map(\.recipients) == [["a@example.net", "b@example.net"], ["c@example.net"]])
            #expect(submitted.first?.text == "Subject: one\r\n\r\n.leading dot\r\nbody\r\n")
        }
    }

    @Test func clearTextPipelinedAfterSTARTTLSIsDiscarded() async throws {
        try await ListenerFixture.with { fixture in
            let results = try await fixture.raw([
                .read(replies: 1), .write("EHLO client.example\r\n"), .read(replies: 1),
                .write("STARTTLS\r\nNOOP\r\n"), .read(replies: 1), .tls,
                .write("EHLO client.example\r\n"), .read(replies: 1), .write("NOOP\r\n"), .read(replies: 1),
            ]).run()
            try #require(results.count == 6, "\(results)")
            #expect(results[2].code == 220)
            #expect(results[3].op == "tls" && results[3].code == 0, "\(results)")
            #expect(results[4].text?.hasSuffix("250 AUTH PLAIN LOGIN") == true, "the first reply over TLS answers EHLO, not the NOOP sent in clear: \(results)")
            #expect(results[5].text == "250 2.0.0 Ok")
        }
    }

    @Test func anIdleSessionIsClosedWith421() async throws {
        try await ListenerFixture.with({ $0.commandTimeout = .milliseconds(300) }) { fixture in
            let results = try await fixture.raw([.read(replies: 1), .readToEnd(timeout: 5)]).run()
            #expect(results[1].code == 0, "closed by the server: \(results)")
            #expect(results[1].text == "421 4.4.2 localhost timeout\r\n")
            #expect((results[1].elapsed ?? 99) < 3)
        }
    }

    @Test func aClientSilentInTheMiddleOfDataIsClosedAfterTheDataTimeout() async throws {
        let backend = FakeSubmissionBackend(trustsLoopback: true)
        try await ListenerFixture.with(backend: backend, tls: false, { $0.dataTimeout = .milliseconds(300) }) { fixture in
            let results = try await fixture.raw([
                .read(replies: 1), .write("EHLO c\r\nMAIL FROM:<news@example.com>\r\nRCPT TO:<a@example.net>\r\nDATA\r\nSubject: half\r\n"),
                .read(replies: 4), .readToEnd(timeout: 5),
            ]).run()
            #expect(results.map { $0.code ?? 0 } == [220, 250, 250, 250, 354, 0], "\(results)")
            #expect(results[5].text == "421 4.4.2 localhost timeout\r\n")
            #expect(backend.submitted.isEmpty)
        }
    }

    @Test func connectionsOverTheCapGet421() async throws {
        try await ListenerFixture.with({ $0.maxConnections = 1 }) { fixture in
            let results = try await fixture.raw([.read(replies: 1), .probe]).run()
            #expect(results[0].code == 220)
            #expect(results[1].code == 421 && results[1].text == "421 4.3.2 Too many connections", "\(results)")
        }
    }

    @Test func stopTellsAnIdleSessionAndClosesIt() async throws {
        try await ListenerFixture.with { fixture in
            async let client = fixture.raw([.read(replies: 1), .readToEnd(timeout: 60)]).run()
            // The client is a Python process: on a loaded machine it can take seconds to start.
            let deadline = ContinuousClock.now + .seconds(60)
            while fixture.server.openSessions == 0, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
            try await Task.sleep(for: .milliseconds(100))
            await fixture.server.stop()
            let results = try await client
            #expect(results[1].code == 0 && results[1].text == "421 4.3.2 localhost Service shutting down\r\n", "\(results)")
            #expect(fixture.server.openSessions == 0)
        }
    }

    @Test func stopLetsAMessageBeingStoredFinishBeforeClosing() async throws {
        let backend = FakeSubmissionBackend(trustsLoopback: true, submitDelay: .milliseconds(500))
        // The backend's call finishes on Swift's cooperative pool, which the suites beside
        // this one (waiting on processes) can hold for tens of seconds on 2 cores: a grace
        // period that outlasts that, so that only a stop that really cuts the session fails.
        try await ListenerFixture.with(backend: backend, tls: false, { $0.shutdownGracePeriod = .seconds(150) }) { fixture in
            async let client = fixture.raw([
                .read(replies: 1),
                .write("EHLO c\r\nMAIL FROM:<news@example.com>\r\nRCPT TO:<a@example.net>\r\nDATA\r\nSubject: x\r\n\r\nbody\r\n.\r\n"),
                .read(replies: 4), .readToEnd(timeout: 180),
            ]).run()
            let deadline = ContinuousClock.now + .seconds(60)
            while backend.submitsStarted == 0, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
            await fixture.server.stop()
            let results = try await client
            #expect(results.last?.text == "250 2.0.0 Ok: queued as 1\r\n421 4.3.2 localhost Service shutting down\r\n", "\(results)")
            #expect(backend.submitted.count == 1)
        }
    }
}
