import KilnCore
import NIOCore
import Testing

@testable import KilnSubmission

/// The session state machine with plain values: no socket, no backend.
@Suite struct SubmissionSessionTests {
    static let limits = SubmissionSession.Limits(hostname: "mx.test", maxMessageBytes: 100, maxRecipients: 2, maxHeaderBytes: 40,
                                                 maxCommandLineLength: 512, maxErrors: 3, offersTLS: true)
    static let tenant = Principal(tenant: "t", credential: nil)

    static func line(_ text: String) -> SubmissionLine { .line(ByteBuffer(string: text)) }

    /// The reply of an action that answers at once.
    static func reply(_ action: SubmissionSession.Action) -> String? {
        guard case .reply(let reply) = action else { return nil }
        return reply.description
    }

    @Test func startTLSForgetsTheSessionAndAuthIsOfferedOnlyOverTLS() {
        var session = SubmissionSession(limits: Self.limits, trusted: nil)
        let plain = "AUTH PLAIN AGFwcABzM2NyZXQ="
        let clearEHLO = Self.reply(session.receive(Self.line("EHLO c")))
        let clearAuth = Self.reply(session.receive(Self.line(plain)))
        let startTLS = session.receive(Self.line("STARTTLS"))
        session.tlsStarted()
        let greeted = session.greeted
        let authBeforeEHLO = Self.reply(session.receive(Self.line(plain)))
        let ehlo = Self.reply(session.receive(Self.line("EHLO c")))
        let auth = session.receive(Self.line(plain))

        #expect(clearEHLO?.contains("STARTTLS") == true && clearEHLO?.contains("AUTH") == false)
        #expect(clearAuth?.hasPrefix("538 5.7.11") == true)
        #expect(startTLS == .startTLS(SMTPReply(code: 220, enhancedStatus: "2.0.0", text: "Ready to start TLS")))
        #expect(!greeted)
        #expect(authBeforeEHLO?.hasPrefix("503 5.5.1") == true)
        #expect(ehlo?.contains("AUTH PLAIN LOGIN") == true && ehlo?.contains("STARTTLS") == false)
        #expect(auth == .authenticate(name: "app", secret: "s3cret"))
    }

    /// DATA handed over in blocks of complete lines (as the decoder does between `354` and
    /// the final dot) is kept exactly as line by line: unstuffed, bare LF made CRLF.
    @Test func dataInBlocksIsKeptAsLineByLine() {
        var session = SubmissionSession(limits: Self.limits, trusted: Self.tenant)
        _ = session.receive(Self.line("HELO c"))
        _ = session.receive(Self.line("MAIL FROM:<a@example.com>"))
        _ = session.senderChecked(address: "a@example.com", principal: Self.tenant, refusal: nil)
        _ = session.receive(Self.line("RCPT TO:<b@example.net>"))
        _ = session.receive(Self.line("DATA"))
        let first = session.receive(.dataLines(ByteBuffer(string: "S: x\r\n\r\n..dot\r\n")))
        let second = session.receive(.dataLines(ByteBuffer(string: "bare\n..\r\n")))
        let end = session.receive(Self.line("."))
        #expect(first == .receivingData && second == .receivingData)
        #expect(end == .submit(.init(raw: Array("S: x\r\n\r\n.dot\r\nbare\r\n.\r\n".utf8), mailFrom: "a@example.com",
                                     recipients: ["b@example.net"], principal: Self.tenant)))
    }

    /// The decoder's block stops before the final dot and before an incomplete line.
    @Test func theDecoderBlockStopsBeforeTheFinalDot() {
        let decoder = SubmissionLineDecoder(maxLength: 100, control: .init())
        var buffer = ByteBuffer(string: "a\r\n..b\r\n.\r\nMAIL FROM:<x@y.z>\r\npart")
        let block = decoder.dataLines(in: &buffer)
        #expect(block.map { String(buffer: $0) } == "a\r\n..b\r\n")
        #expect(String(buffer: buffer) == ".\r\nMAIL FROM:<x@y.z>\r\npart")
        var incomplete = ByteBuffer(string: "no line end yet")
        #expect(decoder.dataLines(in: &incomplete) == nil)
        #expect(SubmissionLineDecoder.lines(of: ByteBuffer(string: "x\r\ny\n")).map { String(buffer: $0) } == ["x", "y"])
    }

    @Test func dataIsUnstuffedAndAnOversizedMessageIsRefusedAtItsEnd() {
        var session = SubmissionSession(limits: Self.limits, trusted: Self.tenant)
        _ = session.receive(Self.line("HELO c"))
        let mail = session.receive(Self.line("MAIL FROM:<a@example.com>"))
        _ = session.senderChecked(address: "a@example.com", principal: Self.tenant, refusal: nil)
        _ = session.receive(Self.line("RCPT TO:<B@Example.NET>"))
        let data = Self.reply(session.receive(Self.line("DATA")))
        let lines = ["S: x", "", "..dot"].map { session.receive(Self.line($0)) }
        let end = session.receive(Self.line("."))
        let idle = session.isIdle

        #expect(mail == .checkSender(address: "a@example.com", principal: Self.tenant))
        #expect(data?.hasPrefix("354") == true)
        #expect(lines == [.receivingData, .receivingData, .receivingData])
        #expect(end == .submit(.init(raw: Array("S: x\r\n\r\n.dot\r\n".utf8), mailFrom: "a@example.com",
                                     recipients: ["B@example.net"], principal: Self.tenant)))
        #expect(idle)

        _ = session.receive(Self.line("MAIL FROM:<a@example.com>"))
        _ = session.senderChecked(address: "a@example.com", principal: Self.tenant, refusal: nil)
        _ = session.receive(Self.line("RCPT TO:<b@example.net>"))
        _ = session.receive(Self.line("DATA"))
        for _ in 0..<10 { _ = session.receive(Self.line(String(repeating: "x", count: 20))) }
        let tooBig = session.receive(Self.line("."))
        #expect(tooBig == .messageRefused(SMTPReply(code: 552, enhancedStatus: "5.3.4", text: "Message too big")))
        #expect(session.incoming.bytes.isEmpty && session.isIdle)
    }

    @Test func theLastAllowedErrorClosesTheSession() {
        var session = SubmissionSession(limits: Self.limits, trusted: nil)
        let replies = (0..<3).map { _ in session.receive(Self.line("FROB")) }
        let unknown = SMTPReply(code: 500, enhancedStatus: "5.5.2", text: "Command not recognized")
        #expect(replies == [.reply(unknown), .reply(unknown), .close([unknown, SMTPReply(code: 421, enhancedStatus: "4.7.0", text: "mx.test Too many errors")])])
    }

    @Test(arguments: [
        ("FROM:<a@example.com>", "a@example.com", 0),
        ("from: <a@example.com> SIZE=10 BODY=8BITMIME", "a@example.com", 2),
        ("FROM:<>", "", 0),
        ("FROM:<@relay.example:a@example.com>", "a@example.com", 0),
        ("FROM:<\"a>b\"@example.com>", "\"a>b\"@example.com", 0),
    ])
    func reversePaths(argument: String, path: String, parameters: Int) throws {
        let parsed = try #require(SubmissionSession.reversePath(Substring(argument), keyword: "FROM:"))
        #expect(parsed.path == path && parsed.parameters.count == parameters)
    }

    @Test(arguments: ["FROM:a@example.com", "FROM:<a@example.com", "TO:<a@example.com>", "FROM:<a@example.com>x"])
    func malformedReversePaths(argument: String) {
        #expect(SubmissionSession.reversePath(Substring(argument), keyword: "FROM:") == nil)
    }
}
