import Foundation
import KilnCore
import KilnSMTP
import KilnTesting
import Logging
import Testing

/// STARTTLS and implicit TLS against loopback receivers with throwaway certificates.
@Suite struct TLSTransportTests {
    let ca: TestCertificateAuthority
    let caFile: String

    init() throws {
        ca = try TestCertificateAuthority()
        caFile = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-ca-\(UUID().uuidString).pem").path
        try ca.certificatePEM.write(toFile: caFile, atomically: true, encoding: .utf8)
    }

    func transport() -> SMTPTransport {
        SMTPTransport(options: .init(heloName: "mta.example.com", connectTimeout: .seconds(5), transferTimeout: .seconds(20), caFile: caFile),
                      logger: Logger.test())
    }

    /// One job to `server`, named `host` in the URL (for TLS) and connected by address.
    func deliver(to server: LoopbackSMTPServer, host: String = "mx.kiln.test", tls: TLSPolicy, verify: Bool = false) async -> SMTPResult? {
        let transport = transport()
        let scheme = server.url.hasPrefix("smtps") ? "smtps" : "smtp"
        var job = SMTPJob(id: MessageID(1), destination: SMTPURL("\(scheme)://\(host):\(server.port)")!, sourceIP: nil, mailFrom: "b+1@bounce.example.com",
                          recipient: "user@example.org", body: Array("Subject: tls\r\n\r\nhello\r\n".utf8), tls: tls)
        job.address = server.host
        job.verifyTLS = verify
        transport.send([job])
        var result: SMTPResult?
        for await _ in transport.resultsReady {
            if let first = transport.takeResults().first {
                result = first
                break
            }
        }
        await transport.shutdownGracefully()
        return result
    }

    @Test func opportunisticUpgradesWhenOffered() async throws {
        let server = try await LoopbackSMTPServer.start(tls: try ca.issue(for: "mx.kiln.test").tls(.startTLS))
        let result = await deliver(to: server, tls: .opportunistic)
        #expect(result?.reply?.code == 250)
        #expect(server.messages.map(\.overTLS) == [true])
        await server.shutdown()
    }

    @Test func opportunisticSendsInClearWhenNotOffered() async throws {
        let server = try await LoopbackSMTPServer.start()
        let result = await deliver(to: server, tls: .opportunistic)
        #expect(result?.reply?.code == 250)
        #expect(server.messages.map(\.overTLS) == [false])
        await server.shutdown()
    }

    @Test func requiredNeverSendsInClearAndSaysWhy() async throws {
        let server = try await LoopbackSMTPServer.start()
        let result = try #require(await deliver(to: server, tls: .required))
        #expect(result.reply?.code == 421)
        #expect(result.reply?.enhancedStatus == "4.7.10")
        #expect(result.reply?.text.contains("offers no STARTTLS") == true)
        #expect(ReplyReader().read(try #require(result.reply), provider: nil).classification.replyClass == .temporary)
        #expect(server.messages.isEmpty)
        let secure = try await LoopbackSMTPServer.start(tls: try ca.issue(for: "mx.kiln.test").tls(.startTLS))
        #expect(await deliver(to: secure, tls: .required)?.reply?.code == 250)
        #expect(secure.messages.map(\.overTLS) == [true])
        await server.shutdown()
        await secure.shutdown()
    }

    @Test func verifyAcceptsTheTrustedCertificateAndRejectsOthers() async throws {
        let good = try await LoopbackSMTPServer.start(tls: try ca.issue(for: "mx.kiln.test").tls(.startTLS))
        #expect(await deliver(to: good, tls: .required, verify: true)?.reply?.code == 250)
        // The same certificate for another name fails the host-name check.
        let wrongName = await deliver(to: good, host: "other.kiln.test", tls: .required, verify: true)
        #expect(wrongName?.reply?.enhancedStatus == "4.7.5")
        // A certificate from an authority the CA file does not hold.
        let stranger = try TestCertificateAuthority(name: "Somebody Else")
        let bad = try await LoopbackSMTPServer.start(tls: try stranger.issue(for: "mx.kiln.test").tls(.startTLS))
        let rejected = try #require(await deliver(to: bad, tls: .opportunistic, verify: true))
        #expect(rejected.reply?.code == 421)
        #expect(rejected.reply?.enhancedStatus == "4.7.5")
        #expect(bad.messages.isEmpty)
        // Without verification (MX delivery's default) the same receiver gets the message, encrypted.
        #expect(await deliver(to: bad, tls: .opportunistic)?.reply?.code == 250)
        #expect(bad.messages.map(\.overTLS) == [true])
        #expect(good.messages.count == 1)
        await good.shutdown()
        await bad.shutdown()
    }

    @Test func implicitTLSRelayIsVerifiedLikeSTARTTLS() async throws {
        let relay = try await LoopbackSMTPServer.start(tls: try ca.issue(for: "relay.kiln.test").tls(.implicit))
        #expect(relay.url.hasPrefix("smtps://"))
        #expect(await deliver(to: relay, host: "relay.kiln.test", tls: .opportunistic, verify: true)?.reply?.code == 250)
        #expect(relay.messages.map(\.overTLS) == [true])
        let wrong = await deliver(to: relay, host: "elsewhere.kiln.test", tls: .opportunistic, verify: true)
        #expect(wrong?.reply?.enhancedStatus == "4.7.5")
        #expect(relay.messages.count == 1)
        await relay.shutdown()
    }
}
