import Foundation
import KilnCore
import KilnSMTP
import KilnTesting
import Logging
import Synchronization
import Testing

/// Defence in depth against injection: the transport refuses an envelope that would put a line
/// break into an SMTP command, whatever built the job.
@Suite struct EnvelopeInjectionTests {
    /// Every command the loopback server saw.
    final class CommandLog: Sendable {
        let kinds = Mutex<[LoopbackSMTPServer.Command.Kind]>([])
        var all: [LoopbackSMTPServer.Command.Kind] { kinds.withLock { $0 } }
        var script: LoopbackSMTPServer.Script {
            { command in self.kinds.withLock { $0.append(command.kind) }; return nil }
        }
    }

    static let smuggled = "x@[127.0.0.1]>\r\nDATA\r\nSubject: SMUGGLED\r\n\r\nbody\r\n.\r\nRSET\r\nNOOP [x]"

    func transport(helo: String = "mta.example.com") -> SMTPTransport {
        SMTPTransport(options: .init(heloName: helo, connectTimeout: .seconds(5), transferTimeout: .seconds(20)), logger: Logger.test())
    }

    func job(_ n: Int, _ server: LoopbackSMTPServer, mailFrom: String = "b+1@bounce.example.com", recipient: String) -> SMTPJob {
        SMTPJob(id: MessageID(Int64(n)), destination: SMTPURL(server.url)!, sourceIP: nil, mailFrom: mailFrom, recipient: recipient,
                body: Array("Subject: m\(n)\r\n\r\nbody\r\n".utf8), maxConnections: 1, tls: .none)
    }

    func collect(_ transport: SMTPTransport, count: Int) async -> [MessageID: SMTPResult] {
        await SMTPTransportTests().collect(transport, count: count)
    }

    static let hostileRecipients = [smuggled, "a\r\nb@example.com", "a\nRCPT TO:<v@example.com>", "a\u{0}@example.com", "a\u{7F}@example.com",
                                    "a>@example.com", "<a@example.com", "\"unclosed>@example.com"]

    @Test func refusesARecipientThatWouldInjectACommandAndSendsTheRest() async throws {
        let log = CommandLog()
        let server = try await LoopbackSMTPServer.start(script: log.script)
        let transport = transport()
        let hostile = Self.hostileRecipients.enumerated().map { job($0.offset + 1, server, recipient: $0.element) }
        let hostileSender = job(100, server, mailFrom: "b+1@bounce.example.com>\r\nRSET", recipient: "ok2@gmail.com")
        transport.send(hostile + [hostileSender, job(0, server, recipient: "ok@gmail.com")])
        let results = await collect(transport, count: hostile.count + 2)
        await transport.shutdownGracefully()
        #expect(results[MessageID(0)]?.reply?.code == 250)
        for job in hostile {
            let reply = try #require(results[job.id]?.reply, "\(job.recipient.escapingControlCharacters)")
            #expect(reply.code == 553 && reply.enhancedStatus == "5.1.3" && reply.isLocal, "\(reply)")
            #expect(reply.text.contains("refused envelope recipient"))
        }
        let senderReply = try #require(results[MessageID(100)]?.reply)
        #expect(senderReply.code == 553 && senderReply.enhancedStatus == "5.1.7" && senderReply.isLocal)
        #expect(senderReply.classification.replyClass == .permanentMessage)
        // The receiver saw one transaction, for the good job, and nothing smuggled.
        #expect(server.messages.map(\.recipients) == [["ok@gmail.com"]])
        let commands = log.all
        #expect(commands.filter { if case .recipient = $0 { true } else { false } } == [.recipient("ok@gmail.com")])
        #expect(commands.filter { if case .mailFrom = $0 { true } else { false } } == [.mailFrom("b+1@bounce.example.com")])
        #expect(!server.messages.contains { $0.text.contains("SMUGGLED") })
        await server.shutdown()
    }

    @Test(arguments: ["mta.example.com\r\nRSET", "mta.example.com%0D%0ARSET", "mta example.com", "mta.example.com/x", ""])
    func refusesAnEHLONameThatWouldInjectACommand(helo: String) async throws {
        let log = CommandLog()
        let server = try await LoopbackSMTPServer.start(script: log.script)
        let transport = transport(helo: helo)
        transport.send([job(1, server, recipient: "ok@gmail.com")])
        let results = await collect(transport, count: 1)
        await transport.shutdownGracefully()
        let reply = try #require(results[MessageID(1)]?.reply)
        #expect(reply.code == 553 && reply.enhancedStatus == "5.3.5" && reply.isLocal, "\(reply)")
        #expect(reply.classification.replyClass == .permanentMessage)
        #expect(log.all.isEmpty)
        #expect(server.messages.isEmpty)
        await server.shutdown()
    }
}
