import Foundation
import Kiln
import KilnCore
import KilnStore
import KilnTesting
import Logging
import Testing

/// MX delivery end to end on loopback: a loopback name server, SMTP receivers on random
/// loopback addresses sharing one port (as MX hosts share port 25), the real libcurl
/// transport and the engine.
final class MXNetwork: Sendable {
    let dns: LoopbackDNSServer
    let servers: [LoopbackSMTPServer]
    let port: Int
    let directory: String
    let clock = ManualClock()

    /// - Parameter scripts: one receiver per script (`tls[i]`: receiver i's TLS).
    init(_ scripts: [LoopbackSMTPServer.Script], tls: [LoopbackSMTPServer.TLS?] = []) async throws {
        dns = try await LoopbackDNSServer.start()
        servers = try await LoopbackHosts.smtpServers(scripts, tls: tls)
        port = servers[0].port
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-mx-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    /// - Parameter allowPrivate: the loopback test network is private: allowed unless a test says not.
    func engine(routes: [String: RouteList]? = nil, connectTimeout: Double = 5, transferTimeout: Double = 20,
                tls: Configuration.TLSPolicy = .none, tlsVerify: Configuration.TLSVerification? = nil, caFile: String? = nil,
                allowPrivate: Bool = true) throws -> SendEngine {
        let configuration = Configuration(
            store: .init(path: "kiln.sqlite"), senderId: "Test",
            identities: [.init(domain: "example.com", returnPathDomain: "bounce.example.com")],
            pools: [.init(name: "p", ips: ["127.0.0.2"], scaling: .fixed)],
            delivery: .init(mode: .mx, routes: routes, heloName: "mta.example.com", connectTimeoutSeconds: connectTimeout,
                            transferTimeoutSeconds: transferTimeout, tls: tls, nameservers: [dns.address], mxPort: port,
                            tlsVerify: tlsVerify, caFile: caFile, allowPrivateDestinations: allowPrivate),
            providers: Configuration.ProviderProfileOverride.unthrottled,
            configurationSets: [.init(name: "bulk", pool: "p")], defaultConfigurationSet: "bulk",
            feedback: .init(returnPathSecretEnv: "KILN_TEST_RETURN_PATH"))
        var secrets = SecretSource(baseDirectory: directory)
        secrets.environment["KILN_TEST_RETURN_PATH"] = "return-path-test-secret-0123"
        return try SendEngine(configuration: configuration, baseDirectory: directory, secrets: secrets, logger: Logger.test(), clock: clock)
    }

    /// A loopback address with nothing listening on `port`: connections are refused.
    func refusingAddress() -> String {
        var generator = SystemRandomNumberGenerator()
        return LoopbackHosts.randomAddress(using: &generator)
    }

    func send(_ engine: SendEngine, to recipients: [String]) async throws -> [MessageID] {
        let draft = MessageDraft(from: try EmailAddress("news@example.com"), to: try recipients.map(EmailAddress.init), subject: "Hi", text: "Hello\n")
        return try await engine.submit(OutgoingMessage(draft))
    }

    func finish() async {
        for server in servers { await server.shutdown() }
        await dns.shutdown()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

@Suite struct MXDeliveryTests {
    /// Twenty recipient domains whose name server never answers, and one good domain:
    /// their lookups run at once, so the good domain's message waits about one lookup
    /// timeout, not twenty of them one after another.
    @Test func silentDomainsDoNotHoldUpAGoodDomainsMail() async throws {
        let network = try await MXNetwork([{ _ in nil }])
        let dns = network.dns
        dns.set("good.test", .mx, [.mx(preference: 10, exchange: "mx.good.test")])
        dns.set("mx.good.test", .a, [.address(network.servers[0].host)])
        let silent = (0..<20).map { "silent\($0).test" }
        for domain in silent { dns.setBehaviour(domain, .silence) }
        let engine = try network.engine()
        // Submit too looks the unknown domains up (their provider comes from their MX hosts).
        let started = ContinuousClock.now
        _ = try await network.send(engine, to: silent.map { "user@\($0)" } + ["user@good.test"])
        let delivering = Task { try await engine.runUntilIdle() }
        // The good domain's message arrives while the silent domains' lookups still wait.
        let deadline = ContinuousClock.now + .seconds(120)
        while network.servers[0].messages.isEmpty, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
        let took = ContinuousClock.now - started
        try await delivering.value
        #expect(network.servers[0].messages.flatMap(\.recipients) == ["user@good.test"])
        // One after another, twenty 3 s timeouts took 60 s at submit and 60 s more at send:
        // now about 11 s on an idle machine. The bound leaves room for the rest of the suite
        // running at once (23 s seen on 2 loaded cores) and still fails a sequential lookup.
        #expect(took < .seconds(150), "the good domain's message arrived after \(took)")
        await network.finish()
    }

    /// By default an MX host whose address is loopback (or private, link-local,
    /// unspecified, multicast) is not delivered to: the message waits, nothing is
    /// suppressed, and the reply says what allows it.
    @Test func anMXOnALoopbackAddressIsRefusedByDefault() async throws {
        let network = try await MXNetwork([{ _ in nil }])
        network.dns.set("inside.test", .mx, [.mx(preference: 10, exchange: "mx.inside.test")])
        network.dns.set("mx.inside.test", .a, [.address(network.servers[0].host)])
        let engine = try network.engine(allowPrivate: false)
        let ids = try await network.send(engine, to: ["user@inside.test"])
        try await engine.runUntilIdle()
        #expect(network.servers[0].messages.isEmpty)
        let record = try #require(try await engine.store.messages(ids: ids).first)
        #expect(record.state == .deferred)
        #expect(record.lastReply?.text.contains("allowPrivateDestinations") == true, "\(String(describing: record.lastReply))")
        await network.finish()
    }

    @Test(arguments: [("127.0.0.1", true), ("0.0.0.0", true), ("10.1.2.3", true), ("172.20.0.1", true), ("192.168.1.1", true), ("169.254.0.5", true),
                      ("224.0.0.1", true), ("::1", true), ("fe80::1", true), ("fd00::1", true), ("::ffff:127.0.0.1", true),
                      ("192.0.2.1", false), ("8.8.8.8", false), ("2001:db8::1", false), ("172.32.0.1", false)])
    func privateAddressesAreKnown(_ address: String, _ isPrivate: Bool) throws {
        #expect(IPAddressBytes.isPrivate(try #require(IPAddressBytes.parse(address))) == isPrivate)
    }

    @Test func whenTheFirstMXRefusesEveryMessageArrivesOnceAtTheSecond() async throws {
        let network = try await MXNetwork([{ _ in nil }])
        let dns = network.dns
        dns.set("kiln-a.test", .mx, [.mx(preference: 10, exchange: "mx1.kiln-a.test"), .mx(preference: 20, exchange: "mx2.kiln-a.test")])
        dns.set("mx1.kiln-a.test", .a, [.address(network.refusingAddress())])
        dns.set("mx2.kiln-a.test", .a, [.address(network.servers[0].host)])
        let engine = try network.engine()
        let recipients = (0..<30).map { "user\($0)@kiln-a.test" }
        let ids = try await network.send(engine, to: recipients)
        try await engine.runUntilIdle()
        let received = network.servers[0].messages.flatMap(\.recipients)
        #expect(received.sorted() == recipients.sorted())
        let records = try await engine.store.messages(ids: ids)
        #expect(records.allSatisfy { $0.state == .delivered && $0.attempts == 1 })
        #expect(records.allSatisfy { $0.host?.contains("mx2.kiln-a.test") == true })
        // The delivery events name the host that took the message and the one passed over.
        let deliveries = try await engine.store.events().map { $0.event }.filter { $0.kind == .delivery }
        #expect(deliveries.count == 30)
        #expect(deliveries.allSatisfy { $0.host?.hasPrefix("smtp://mx2.kiln-a.test:\(network.port)") == true })
        #expect(deliveries.contains { $0.detail?.contains("mx1.kiln-a.test") == true })
        let status = try await engine.status()
        #expect(status.receivingHosts.map(\.deliveries).reduce(0, +) == 30)
        #expect(status.receivingHosts.allSatisfy { $0.host.contains("mx2.kiln-a.test") })
        await network.finish()
    }

    @Test func equalPreferenceHostsBothReceiveTraffic() async throws {
        let network = try await MXNetwork([{ _ in nil }, { _ in nil }])
        network.dns.set("kiln-b.test", .mx, [.mx(preference: 10, exchange: "a.kiln-b.test"), .mx(preference: 10, exchange: "b.kiln-b.test")])
        network.dns.set("a.kiln-b.test", .a, [.address(network.servers[0].host)])
        network.dns.set("b.kiln-b.test", .a, [.address(network.servers[1].host)])
        let engine = try network.engine()
        _ = try await network.send(engine, to: (0..<60).map { "user\($0)@kiln-b.test" })
        try await engine.runUntilIdle()
        let counts = network.servers.map(\.messages.count)
        #expect(counts.reduce(0, +) == 60)
        // Shuffled per message: either host gets none with probability 2^-59.
        #expect(counts.allSatisfy { $0 > 0 })
        await network.finish()
    }

    @Test func aNullMXBouncesAtOnceWithAClearReason() async throws {
        let network = try await MXNetwork([{ _ in nil }])
        network.dns.set("kiln-null.test", .mx, [.mx(preference: 0, exchange: "")])
        let engine = try network.engine()
        let ids = try await network.send(engine, to: ["someone@kiln-null.test"])
        try await engine.runUntilIdle()
        let record = try #require(try await engine.store.messages(ids: ids).first)
        #expect(record.state == .bounced)
        #expect(record.lastReply?.code == 556)
        #expect(record.lastReply?.enhancedStatus == "5.1.10")
        #expect(record.lastReply?.text.contains("null MX") == true)
        #expect(network.servers[0].messages.isEmpty)
        await network.finish()
    }

    @Test func aDomainWithoutMXGetsItsMailAtItsAddressRecord() async throws {
        let network = try await MXNetwork([{ _ in nil }])
        network.dns.set("kiln-plain.test", .a, [.address(network.servers[0].host)])
        let engine = try network.engine()
        let ids = try await network.send(engine, to: ["someone@kiln-plain.test"])
        try await engine.runUntilIdle()
        #expect(network.servers[0].messages.flatMap(\.recipients) == ["someone@kiln-plain.test"])
        #expect(try await engine.store.messages(ids: ids).first?.state == .delivered)
        // Looked up once: at submit (its provider comes from its MX hosts), and the
        // answer reused to send it.
        #expect(network.dns.queries("kiln-plain.test", .mx) == 1)
        await network.finish()
    }

    @Test func aOneSecondTTLIsHonouredAndAChangedRecordPickedUp() async throws {
        let network = try await MXNetwork([{ _ in nil }, { _ in nil }])
        let dns = network.dns
        dns.set("kiln-ttl.test", .mx, [.mx(preference: 10, exchange: "old.kiln-ttl.test")], ttl: 1)
        dns.set("old.kiln-ttl.test", .a, [.address(network.servers[0].host)], ttl: 1)
        dns.set("new.kiln-ttl.test", .a, [.address(network.servers[1].host)], ttl: 1)
        let engine = try network.engine()
        _ = try await network.send(engine, to: ["first@kiln-ttl.test"])
        try await engine.runUntilIdle()
        dns.set("kiln-ttl.test", .mx, [.mx(preference: 10, exchange: "new.kiln-ttl.test")], ttl: 1)
        // Within the TTL the cached answer holds.
        _ = try await network.send(engine, to: ["second@kiln-ttl.test"])
        try await engine.runUntilIdle()
        #expect(network.servers[0].messages.flatMap(\.recipients) == ["first@kiln-ttl.test", "second@kiln-ttl.test"])
        let lookups = dns.queries("kiln-ttl.test", .mx)
        // Past it, the changed record is asked for and used.
        network.clock.advance(by: .milliseconds(1500))
        _ = try await network.send(engine, to: ["third@kiln-ttl.test"])
        try await engine.runUntilIdle()
        #expect(network.servers[1].messages.flatMap(\.recipients) == ["third@kiln-ttl.test"])
        #expect(dns.queries("kiln-ttl.test", .mx) == lookups + 1)
        await network.finish()
    }

    @Test func aGreetingRefusalMovesOnButARecipientRefusalIsTheAnswer() async throws {
        let network = try await MXNetwork([
            { command in command.kind == .connect ? SMTPReply(code: 421, enhancedStatus: "4.3.2", text: "busy, try another") : nil },
            { command in
                if case .recipient(let address) = command.kind, address.hasPrefix("later@") {
                    return SMTPReply(code: 450, enhancedStatus: "4.2.1", text: "mailbox busy")
                }
                return nil
            },
            { _ in nil },
        ])
        let dns = network.dns
        dns.set("kiln-c.test", .mx, [.mx(preference: 10, exchange: "busy.kiln-c.test"), .mx(preference: 20, exchange: "picky.kiln-c.test"),
                                     .mx(preference: 30, exchange: "last.kiln-c.test")])
        for (name, server) in zip(["busy", "picky", "last"], network.servers) { dns.set("\(name).kiln-c.test", .a, [.address(server.host)]) }
        let engine = try network.engine()
        let ids = try await network.send(engine, to: ["fine@kiln-c.test", "later@kiln-c.test"])
        try await engine.runUntilIdle()
        #expect(network.servers[0].messages.isEmpty)
        #expect(network.servers[1].messages.flatMap(\.recipients) == ["fine@kiln-c.test"])
        // The 450 after RCPT is picky's answer: deferred, never tried at the third host.
        #expect(network.servers[2].messages.isEmpty)
        let records = try await engine.store.messages(ids: ids)
        #expect(records.map(\.state) == [.delivered, .deferred])
        #expect(records[1].lastReply?.code == 450)
        await network.finish()
    }

    @Test func aReceiverThatNeverAnswersIsTimedOutAndTheNextHostTried() async throws {
        let network = try await MXNetwork([{ _ in nil }])
        var generator = SystemRandomNumberGenerator()
        let silent = try SilentListener(host: LoopbackHosts.randomAddress(using: &generator), port: network.port)
        defer { silent.stop() }
        network.dns.set("kiln-d.test", .mx, [.mx(preference: 10, exchange: "hang.kiln-d.test"), .mx(preference: 20, exchange: "ok.kiln-d.test")])
        network.dns.set("hang.kiln-d.test", .a, [.address(silent.host)])
        network.dns.set("ok.kiln-d.test", .a, [.address(network.servers[0].host)])
        let engine = try network.engine(connectTimeout: 1)
        let ids = try await network.send(engine, to: (0..<5).map { "user\($0)@kiln-d.test" })
        try await engine.runUntilIdle()
        #expect(network.servers[0].messages.count == 5)
        #expect(try await engine.store.messages(ids: ids).allSatisfy { $0.state == .delivered })
        await network.finish()
    }

    @Test func aRouteListIsTriedInOrder() async throws {
        let network = try await MXNetwork([{ _ in nil }])
        let refused = "smtp://\(network.refusingAddress()):\(network.port)"
        let engine = try network.engine(routes: ["*": [refused, network.servers[0].url]])
        let ids = try await network.send(engine, to: ["a@example.org", "b@example.org"])
        try await engine.runUntilIdle()
        #expect(network.servers[0].messages.count == 2)
        #expect(try await engine.store.messages(ids: ids).allSatisfy { $0.state == .delivered && $0.host == network.servers[0].url })
        await network.finish()
    }

    @Test func requiredTLSPassesOverAPlainMXAndDefersWhenNoneOffersIt() async throws {
        let ca = try TestCertificateAuthority()
        let caFile = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-ca-\(UUID().uuidString).pem").path
        try ca.certificatePEM.write(toFile: caFile, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: caFile) }
        let network = try await MXNetwork([{ _ in nil }, { _ in nil }], tls: [nil, try ca.issue(for: "secure.kiln-tls.test").tls(.startTLS)])
        let dns = network.dns
        dns.set("kiln-tls.test", .mx, [.mx(preference: 10, exchange: "plain.kiln-tls.test"), .mx(preference: 20, exchange: "secure.kiln-tls.test")])
        dns.set("plain.kiln-tls.test", .a, [.address(network.servers[0].host)])
        dns.set("secure.kiln-tls.test", .a, [.address(network.servers[1].host)])
        dns.set("plain-only.test", .mx, [.mx(preference: 10, exchange: "plain.kiln-tls.test")])
        let engine = try network.engine(tls: .required, tlsVerify: .verify, caFile: caFile)
        let ids = try await network.send(engine, to: ["someone@kiln-tls.test", "someone@plain-only.test"])
        try await engine.runUntilIdle()
        // Never in clear: the plain host is passed over for the one that offers STARTTLS ...
        #expect(network.servers[0].messages.isEmpty)
        #expect(network.servers[1].messages.map(\.overTLS) == [true])
        let records = try await engine.store.messages(ids: ids)
        #expect(records.map(\.state) == [.delivered, .deferred])
        // ... and a domain with no such host waits, its event saying why.
        let delay = try await engine.store.events().map { $0.event }.first { $0.kind == .deliveryDelay }
        #expect(delay?.recipient == "someone@plain-only.test")
        #expect(delay?.reply?.text.contains("not sent in clear") == true)
        #expect(delay?.host?.contains("plain.kiln-tls.test") == true)
        await network.finish()
    }
}
