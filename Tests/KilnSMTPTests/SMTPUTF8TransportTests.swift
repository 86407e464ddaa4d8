import Foundation
import KilnCore
@testable import KilnSMTP
import KilnTesting
import Logging
import Testing

/// Internationalized mail over real sockets (libcurl to the loopback receiver): domains
/// go out as A-labels to any receiver; a non-ASCII local part (or a UTF-8 header) only to
/// a receiver that offers SMTPUTF8, and never raw to one that does not.
@Suite struct SMTPUTF8TransportTests {
    func transport() -> SMTPTransport {
        SMTPTransport(options: .init(heloName: "mta.example.com", connectTimeout: .seconds(5), transferTimeout: .seconds(20)), logger: Logger.test())
    }

    func job(_ n: Int, _ server: LoopbackSMTPServer, mailFrom: String = "b+1@bounce.example.com", recipient: String,
             header: String = "From: news@example.com") -> SMTPJob {
        SMTPJob(id: MessageID(Int64(n)), destination: SMTPURL(server.url)!, sourceIP: "127.0.0.2", mailFrom: mailFrom, recipient: recipient,
                body: Array("\(header)\r\nSubject: m\(n)\r\n\r\nbody \(n)\r\n".utf8), maxConnections: 1, tls: .none)
    }

    /// Sends the jobs one after another (each on the lane's one connection, reused) and
    /// returns their results in order.
    func send(_ jobs: [SMTPJob], with transport: SMTPTransport) async -> [SMTPResult] {
        var results: [SMTPResult] = []
        for job in jobs {
            transport.send([job])
            for await _ in transport.resultsReady {
                let taken = transport.takeResults()
                results += taken
                if taken.contains(where: { $0.id == job.id }) { break }
            }
        }
        return results
    }

    static func isASCII(_ text: String) -> Bool { text.utf8.allSatisfy { $0 < 0x80 } }

    @Test func anIDNGoesOutAsALabelsToAReceiverWithoutSMTPUTF8() async throws {
        let server = try await LoopbackSMTPServer.start(offersSMTPUTF8: false)
        let transport = transport()
        // The caller's U-labels (as a message stored before the conversion would have them).
        let results = await send([job(1, server, mailFrom: "b+1@bücher.de", recipient: "ada@bücher.de")], with: transport)
        await transport.shutdownGracefully()
        await server.shutdown()
        #expect(results.first?.reply?.code == 250, "\(results)")
        let message = try #require(server.messages.first)
        #expect(message.mailFrom == "b+1@xn--bcher-kva.de")
        #expect(message.recipients == ["ada@xn--bcher-kva.de"])
        #expect(server.envelopeCommands.allSatisfy(Self.isASCII), "\(server.envelopeCommands)")
        #expect(!message.mailCommand.contains("SMTPUTF8"))
    }

    @Test func aUTF8LocalPartIsRefusedBeforeMailFromWhenTheReceiverDoesNotOfferSMTPUTF8() async throws {
        let server = try await LoopbackSMTPServer.start(offersSMTPUTF8: false)
        let transport = transport()
        let results = await send([job(1, server, recipient: "jörg@example.com")], with: transport)
        await transport.shutdownGracefully()
        await server.shutdown()
        let result = try #require(results.first)
        let reply = try #require(result.reply)
        #expect(reply.code == 553 && reply.enhancedStatus == "5.6.7" && reply.isLocal, "\(reply)")
        #expect(reply.text.contains("non-ASCII address and the receiver does not offer SMTPUTF8"))
        // The message bounces; the address is not called bad (no suppression), no IP is blamed.
        let reading = ReplyReader().read(reply, provider: result.provider).classification
        #expect(reading.replyClass == .permanentMessage, "\(reading)")
        #expect(reading.scope != .ip)
        // Nothing of the transaction reached the receiver: no MAIL, no RCPT, no message.
        #expect(server.envelopeCommands.isEmpty, "\(server.envelopeCommands)")
        #expect(server.messages.isEmpty)
    }

    @Test func aUTF8LocalPartGoesWithTheSMTPUTF8ParameterWhenOffered() async throws {
        let server = try await LoopbackSMTPServer.start()
        let transport = transport()
        let results = await send([job(1, server, recipient: "jörg@bücher.de")], with: transport)
        await transport.shutdownGracefully()
        await server.shutdown()
        #expect(results.first?.reply?.code == 250, "\(results)")
        let message = try #require(server.messages.first)
        // What libcurl 7.88 really sends: the parameter on MAIL FROM, the address in UTF-8
        // (its domain an A-label all the same).
        #expect(message.mailCommand.hasPrefix("MAIL FROM:<b+1@bounce.example.com>"), "\(message.mailCommand)")
        #expect(message.mailCommand.hasSuffix(" SMTPUTF8"), "\(message.mailCommand)")
        #expect(message.recipients == ["jörg@xn--bcher-kva.de"])
    }

    /// curl says EHLO once per connection: a job on a reused connection is judged by the
    /// EHLO reply its lane saw when the connection opened.
    @Test(arguments: [false, true])
    func aReusedConnectionIsJudgedByItsFirstEHLO(offered: Bool) async throws {
        let server = try await LoopbackSMTPServer.start(offersSMTPUTF8: offered)
        let transport = transport()
        let results = await send([job(1, server, recipient: "ada@example.com"), job(2, server, recipient: "jörg@example.com"),
                                  job(3, server, recipient: "bob@example.com")], with: transport)
        await transport.shutdownGracefully()
        await server.shutdown()
        #expect(results.map(\.id) == [MessageID(1), MessageID(2), MessageID(3)])
        #expect(results[0].reply?.code == 250 && results[2].reply?.code == 250, "\(results)")
        if offered {
            #expect(results[1].reply?.code == 250, "\(results)")
            #expect(server.connectionCount == 1)
            #expect(server.messages.map { $0.mailCommand.hasSuffix(" SMTPUTF8") } == [false, true, false])
        } else {
            #expect(results[1].reply?.enhancedStatus == "5.6.7", "\(results)")
            #expect(server.envelopeCommands.allSatisfy(Self.isASCII), "\(server.envelopeCommands)")
            #expect(server.messages.flatMap(\.recipients) == ["ada@example.com", "bob@example.com"])
        }
    }

    /// A UTF-8 header (a From address with a non-ASCII local part) over an ASCII envelope
    /// needs SMTPUTF8 as well (RFC 6532): refused by a receiver without it. One that
    /// offers it gets the message, without the parameter (libcurl 7.88 adds it only for
    /// a non-ASCII envelope).
    @Test(arguments: [false, true])
    func aUTF8HeaderFollowsTheSameRule(offered: Bool) async throws {
        let server = try await LoopbackSMTPServer.start(offersSMTPUTF8: offered)
        let transport = transport()
        let results = await send([job(1, server, recipient: "ada@example.com", header: "From: jörg@xn--bcher-kva.de")], with: transport)
        await transport.shutdownGracefully()
        await server.shutdown()
        let reply = try #require(results.first?.reply)
        if offered {
            #expect(reply.code == 250, "\(reply)")
            #expect(server.messages.first?.text.contains("From: jörg@xn--bcher-kva.de") == true)
        } else {
            #expect(reply.code == 553 && reply.enhancedStatus == "5.6.7", "\(reply)")
            #expect(reply.text.contains("UTF-8 in the message header"))
            #expect(server.envelopeCommands.isEmpty)
        }
    }

    @Test func readsTheEHLOReplyThatCurlSaw() {
        func offered(_ transcript: String) -> Bool? { SMTPUTF8.offered(in: Array(transcript.utf8)) }
        #expect(offered("220 mx ESMTP\r\n250-mx\r\n250-PIPELINING\r\n250-SMTPUTF8\r\n250 SIZE 100\r\n") == true)
        #expect(offered("220 mx ESMTP\r\n250-mx\r\n250-8BITMIME\r\n250 smtputf8\r\n") == true)
        #expect(offered("220 mx ESMTP\r\n250-mx\r\n250-8BITMIME\r\n250 SIZE 100\r\n") == false)
        // After STARTTLS the second EHLO reply counts.
        #expect(offered("220 mx\r\n250-mx\r\n250-SMTPUTF8\r\n250 STARTTLS\r\n220 go ahead\r\n250-mx\r\n250 SIZE 1\r\n") == false)
        // EHLO refused, HELO accepted: no extensions.
        #expect(offered("220 mx\r\n502 5.5.2 no EHLO\r\n250 mx\r\n") == false)
        // The greeting's text is not a keyword; a reused connection shows no EHLO reply.
        #expect(offered("220 mx SMTPUTF8\r\n") == nil)
        #expect(offered("") == nil)
    }

    @Test func findsUTF8InTheHeaderOnly() {
        #expect(SMTPUTF8.headerHasEightBit(Array("From: jörg@example.com\r\n\r\nbody\r\n".utf8)))
        #expect(!SMTPUTF8.headerHasEightBit(Array("From: a@example.com\r\nSubject: =?UTF-8?B?w7w=?=\r\n\r\nGrüße\r\n".utf8)))
        #expect(!SMTPUTF8.headerHasEightBit(Array("\r\nGrüße\r\n".utf8)))
        #expect(SMTPUTF8.need(mailFrom: "b+1@x.example", recipient: "jörg@example.com", body: []) == .envelope)
        #expect(SMTPUTF8.need(mailFrom: "b+1@x.example", recipient: "ada@example.com", body: Array("From: ö@x.example\r\n\r\n".utf8)) == .header)
        #expect(SMTPUTF8.need(mailFrom: "b+1@x.example", recipient: "ada@example.com", body: Array("From: a@x.example\r\n\r\nö".utf8)) == .none)
    }
}
