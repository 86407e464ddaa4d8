import Crypto
import Foundation
import Kiln
import KilnCore
import KilnMessage
import KilnStore
import KilnTesting
import Logging
import Testing

/// Internationalized mail through the whole engine to a loopback receiver: an identity
/// domain `bücher.de` goes out in A-label form to a receiver without SMTPUTF8 (envelope,
/// Message-ID, DKIM `d=`, List-Unsubscribe); a recipient with a UTF-8 local part goes
/// with SMTPUTF8 to a receiver that offers it, and bounces (unsent, not suppressed) at
/// one that does not.
@Suite struct IDNDeliveryTests {
    final class Setup: Sendable {
        let directory: String
        let server: LoopbackSMTPServer
        let engine: SendEngine
        let key: Curve25519.Signing.PrivateKey

        init(offersSMTPUTF8: Bool) async throws {
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-idn-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            key = Curve25519.Signing.PrivateKey()
            let der: [UInt8] = [0x30, 0x2E, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20] + key.rawRepresentation
            try "-----BEGIN PRIVATE KEY-----\n\(Data(der).base64EncodedString())\n-----END PRIVATE KEY-----\n"
                .write(toFile: directory + "/ed.pem", atomically: true, encoding: .utf8)
            chmod(directory + "/ed.pem", 0o600)
            server = try await LoopbackSMTPServer.start(offersSMTPUTF8: offersSMTPUTF8)
            // Built in code, U-labels as an operator would write them (not through `load`).
            let configuration = Configuration(
                store: .init(path: "kiln.sqlite"), senderId: "Buecher",
                identities: [.init(domain: "bücher.de", dkim: [.init(selector: "ed1", algorithm: "ed25519-sha256", privateKeyFile: "ed.pem")])],
                pools: [.init(name: "p", ips: ["127.0.0.2"], scaling: .fixed)],
                delivery: .init(mode: .routes, routes: ["*": RouteList(server.url)], heloName: "mta.example.com", connectTimeoutSeconds: 5,
                                transferTimeoutSeconds: 20, tls: Configuration.TLSPolicy.none),
                providers: Configuration.ProviderProfileOverride.unthrottled,
                configurationSets: [.init(name: "bulk", pool: "p",
                                          unsubscribe: .init(url: "https://bücher.de/u", mailto: "unsubscribe@bücher.de", secretEnv: "KILN_TEST_UNSUB"))],
                defaultConfigurationSet: "bulk")
            engine = try SendEngine(configuration: configuration, baseDirectory: directory,
                                    secrets: SecretSource(environment: ["KILN_TEST_UNSUB": "s3cret-of-16-bytes-or-more"], baseDirectory: directory),
                                    logger: Logger.test())
        }

        func send(to recipients: [String]) async throws -> [MessageID] {
            var ids: [MessageID] = []
            // One message per recipient: a shared To header would put every recipient's
            // local part in every copy.
            for recipient in recipients {
                let draft = MessageDraft(from: try EmailAddress("news@bücher.de"), to: [try EmailAddress(recipient)], subject: "Neue Bücher",
                                         text: "Hallo!\n")
                ids += try await engine.submit(OutgoingMessage(draft))
            }
            try await engine.runUntilIdle()
            return ids
        }

        func finish() async {
            await server.shutdown()
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    static func isASCII(_ text: some StringProtocol) -> Bool { text.utf8.allSatisfy { $0 < 0x80 } }

    static func header(of message: LoopbackSMTPServer.ReceivedMessage) -> String {
        String(message.text.components(separatedBy: "\r\n\r\n")[0]).replacingOccurrences(of: "\r\n ", with: " ").replacingOccurrences(of: "\r\n\t", with: " ")
    }

    @Test func anIDNIdentityGoesOutInALabelFormToAReceiverWithoutSMTPUTF8() async throws {
        let setup = try await Setup(offersSMTPUTF8: false)
        let ids = try await setup.send(to: ["ada@example.com"])
        let record = try #require(try await setup.engine.store.messages(ids: ids).first)
        #expect(record.state == .delivered, "\(String(describing: record.lastReply))")
        let message = try #require(setup.server.messages.first)
        // The envelope: the return path under the identity's domain, as an A-label.
        #expect(message.mailFrom == ReturnPath.address(for: ids[0], domain: "xn--bcher-kva.de", secret: nil))
        #expect(message.mailFrom.hasSuffix("@xn--bcher-kva.de"))
        #expect(!message.mailCommand.contains("SMTPUTF8"))
        #expect(setup.server.envelopeCommands.allSatisfy(Self.isASCII), "\(setup.server.envelopeCommands)")
        // The header: all ASCII, every domain of the identity an A-label.
        let header = Self.header(of: message)
        #expect(Self.isASCII(header), "\(header)")
        #expect(header.contains("\r\nFrom: news@xn--bcher-kva.de\r\n"), "\(header)")
        #expect(header.range(of: #"\r\nMessage-ID: <[^>\r]+@xn--bcher-kva\.de>\r\n"#, options: .regularExpression) != nil, "\(header)")
        #expect(header.contains("d=xn--bcher-kva.de;"), "\(header)")
        #expect(header.contains("<mailto:unsubscribe@xn--bcher-kva.de?subject=unsubscribe-"), "\(header)")
        #expect(header.contains("<https://xn--bcher-kva.de/u?t="), "\(header)")
        // RFC 8616: the key is published under the A-label, and the signature verifies there.
        let records = ["ed1._domainkey.xn--bcher-kva.de": "v=DKIM1; k=ed25519; p=\(DKIMKey.ed25519(setup.key).publicKeyRecord)"]
        if let results = IndependentChecks.verifyDKIM(message.data, records: records) {
            #expect(results == [true])
        } else {
            Issue.record("dkimpy is not installed (pip install dkimpy pynacl): the independent check did not run")
        }
        await setup.finish()
    }

    @Test(arguments: [true, false])
    func aRecipientWithAUTF8LocalPartNeedsSMTPUTF8(offered: Bool) async throws {
        let setup = try await Setup(offersSMTPUTF8: offered)
        let ids = try await setup.send(to: ["jörg@bücher.de", "ada@example.com"])
        let records = try await setup.engine.store.messages(ids: ids)
        #expect(records[1].state == .delivered)
        let server = setup.server
        if offered {
            #expect(records[0].state == .delivered, "\(String(describing: records[0].lastReply))")
            let message = try #require(server.messages.first { $0.recipients == ["jörg@xn--bcher-kva.de"] })
            #expect(message.mailCommand.hasSuffix(" SMTPUTF8"), "\(message.mailCommand)")
            #expect(Self.header(of: message).contains("\r\nTo: jörg@xn--bcher-kva.de\r\n"))
            // The ASCII message beside it goes without the parameter.
            #expect(server.messages.first { $0.recipients == ["ada@example.com"] }?.mailCommand.contains("SMTPUTF8") == false)
        } else {
            #expect(records[0].state == .bounced)
            let reply = try #require(records[0].lastReply)
            #expect(reply.code == 553 && reply.enhancedStatus == "5.6.7", "\(reply)")
            #expect(reply.text.contains("non-ASCII address and the receiver does not offer SMTPUTF8"), "\(reply)")
            // Never sent raw: no command of that transaction reached the receiver.
            #expect(server.envelopeCommands.allSatisfy(Self.isASCII), "\(server.envelopeCommands)")
            #expect(server.messages.flatMap(\.recipients) == ["ada@example.com"])
            // Not the recipient's fault: the address is not suppressed.
            let suppressed = try await setup.engine.store.suppressions(of: ["jörg@xn--bcher-kva.de"], scope: "bulk")
            #expect(suppressed.isEmpty, "\(suppressed)")
        }
        await setup.finish()
    }
}
