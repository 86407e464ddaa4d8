import Crypto
import Foundation
import Kiln
import KilnCore
import KilnTesting
import Logging
import Testing

/// `kiln identity check` against a loopback name server: one zone that passes every
/// check, and one broken record at a time.
final class IdentityZone: Sendable {
    let dns: LoopbackDNSServer
    let directory: String
    let publicKey: String

    init() async throws {
        dns = try await LoopbackDNSServer.start()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-identity-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let key = Curve25519.Signing.PrivateKey()
        publicKey = key.publicKey.rawRepresentation.base64EncodedString()
        try Self.write(key, to: directory + "/dkim.pem")
        dns.set("s1._domainkey.example.test", .txt, [.text(["v=DKIM1; k=ed25519; p=\(publicKey)"])])
        dns.set("example.test", .txt, [.text(["v=spf1 include:_spf.example.test -all"]), .text(["google-site-verification=abc"])])
        dns.set("_spf.example.test", .txt, [.text(["v=spf1 ip4:192.0.2.0/24 ip4:127.0.0.0/24 -all"])])
        dns.set("bounce.example.test", .txt, [.text(["v=spf1 a:mta.example.test mx -all"])])
        dns.set("mta.example.test", .a, [.address("127.0.0.2")])
        dns.set("_dmarc.example.test", .txt, [.text(["v=DMARC1; p=quarantine; adkim=r; aspf=r"])])
        dns.set("2.0.0.127.in-addr.arpa", .ptr, [.name("mta.example.test")])
    }

    /// A PKCS#8 PEM of an Ed25519 key, mode 0600.
    static func write(_ key: Curve25519.Signing.PrivateKey, to path: String) throws {
        let prefix: [UInt8] = [0x30, 0x2E, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]
        let pem = "-----BEGIN PRIVATE KEY-----\n\(Data(prefix + key.rawRepresentation).base64EncodedString())\n-----END PRIVATE KEY-----\n"
        FileManager.default.createFile(atPath: path, contents: Data(pem.utf8), attributes: [.posixPermissions: 0o600])
    }

    func engine(requireAuthentication: Bool? = nil, ips: [String] = ["127.0.0.2"]) throws -> SendEngine {
        let configuration = Configuration(
            store: .init(path: "kiln.sqlite"), senderId: "Test",
            identities: [.init(domain: "example.test", returnPathDomain: "bounce.example.test",
                               dkim: [.init(selector: "s1", algorithm: "ed25519-sha256", privateKeyFile: "dkim.pem")])],
            pools: [.init(name: "p", ips: ips, scaling: .fixed)],
            delivery: .init(mode: .routes, routes: ["*": "smtp://127.0.0.1:1"], heloName: "mta.example.test", tls: Configuration.TLSPolicy.none,
                            nameservers: [dns.address], requireAuthentication: requireAuthentication),
            configurationSets: [.init(name: "bulk", pool: "p")], defaultConfigurationSet: "bulk")
        return try SendEngine(configuration: configuration, baseDirectory: directory, logger: Logger.test())
    }

    func failing() async throws -> [IdentityFinding] {
        try await engine().checkIdentities().filter { !$0.passed }
    }

    func finish() async {
        await dns.shutdown()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

@Suite struct IdentityCheckTests {
    @Test func aCompleteSetupPassesEveryCheck() async throws {
        let zone = try await IdentityZone()
        let findings = try await zone.engine().checkIdentities()
        #expect(Set(findings.map(\.check)) == [.dkim, .spf, .dmarc, .fcrdns])
        #expect(findings.count == 5)  // DKIM, SPF for two domains, DMARC, FCrDNS
        #expect(findings.filter { !$0.passed }.map(\.message) == [])
        await zone.finish()
    }

    @Test func aWrongDKIMKeyIsNamedWithTheRecordThatFixesIt() async throws {
        let zone = try await IdentityZone()
        let other = Curve25519.Signing.PrivateKey().publicKey.rawRepresentation.base64EncodedString()
        zone.dns.set("s1._domainkey.example.test", .txt, [.text(["v=DKIM1; k=ed25519; p=\(other)"])])
        let failing = try await zone.failing()
        #expect(failing.map(\.check) == [.dkim])
        #expect(failing.first?.message.contains("another public key") == true)
        #expect(failing.first?.fix == "TXT s1._domainkey.example.test \"v=DKIM1; k=ed25519; p=\(zone.publicKey)\"")
        await zone.finish()
    }

    @Test func anSPFRecordWithoutTheIPFails() async throws {
        let zone = try await IdentityZone()
        zone.dns.set("_spf.example.test", .txt, [.text(["v=spf1 ip4:192.0.2.0/24 ~all"])])
        let failing = try await zone.failing()
        #expect(failing.map(\.check) == [.spf])
        #expect(failing.first?.subject == "example.test")
        // The include softfails, which is no match (RFC 7208 §5.2): the outer -all decides.
        #expect(failing.first?.message.contains("not authorized: fail") == true)
        #expect(failing.first?.fix?.contains("add ip4:127.0.0.2 to the SPF record of example.test") == true)
        await zone.finish()
    }

    /// A name may hold one SPF record (RFC 7208 §3.2): with no record and two IPs, the
    /// advice is one record naming both, not a record per IP.
    @Test func aMissingSPFRecordIsAdvisedAsOneRecordForEveryIP() async throws {
        let zone = try await IdentityZone()
        zone.dns.set("example.test", .txt, [.text(["google-site-verification=abc"])])
        zone.dns.set("2.0.0.127.in-addr.arpa", .ptr, [.name("mta.example.test")])
        let findings = try await zone.engine(ips: ["127.0.0.2", "127.0.0.3"]).checkIdentities()
            .filter { !$0.passed && $0.check == .spf && $0.subject == "example.test" }
        #expect(findings.count == 2)
        #expect(Set(findings.compactMap(\.fix)) == ["TXT example.test \"v=spf1 ip4:127.0.0.2 ip4:127.0.0.3 -all\" (one record for every IP of the pool)"])
        await zone.finish()
    }

    /// DMARC passes only on results that passed (RFC 7489): a published key that does not
    /// verify and an SPF that fails align nothing.
    @Test func dmarcFailsWhenNeitherDKIMNorSPFPasses() async throws {
        let zone = try await IdentityZone()
        let other = Curve25519.Signing.PrivateKey().publicKey.rawRepresentation.base64EncodedString()
        zone.dns.set("s1._domainkey.example.test", .txt, [.text(["v=DKIM1; k=ed25519; p=\(other)"])])
        zone.dns.set("bounce.example.test", .txt, [.text(["v=spf1 ip4:192.0.2.1 -all"])])
        let failing = try await zone.failing()
        #expect(Set(failing.map(\.check)) == [.dkim, .spf, .dmarc])
        #expect(failing.first { $0.check == .dmarc }?.message.contains("neither DKIM nor SPF") == true)
        await zone.finish()
    }

    @Test func anSPFIncludeLoopIsAPermanentErrorAtTheLookupLimit() async throws {
        let zone = try await IdentityZone()
        zone.dns.set("example.test", .txt, [.text(["v=spf1 include:loop.example.test -all"])])
        zone.dns.set("loop.example.test", .txt, [.text(["v=spf1 include:example.test -all"])])
        let failing = try await zone.failing()
        #expect(failing.map(\.check) == [.spf])
        #expect(failing.first?.message.contains("permerror") == true)
        #expect(failing.first?.message.contains("more than 10 DNS lookups") == true)
        await zone.finish()
    }

    @Test func aMissingDMARCRecordFails() async throws {
        let zone = try await IdentityZone()
        zone.dns.set("_dmarc.example.test", .txt, [])
        let failing = try await zone.failing()
        #expect(failing.map(\.check) == [.dmarc])
        #expect(failing.first?.fix?.hasPrefix("TXT _dmarc.example.test \"v=DMARC1; p=none") == true)
        await zone.finish()
    }

    @Test func aPTRThatDoesNotResolveBackFails() async throws {
        let zone = try await IdentityZone()
        zone.dns.set("2.0.0.127.in-addr.arpa", .ptr, [.name("elsewhere.example.test")])
        zone.dns.set("elsewhere.example.test", .a, [.address("192.0.2.99")])
        let failing = try await zone.failing()
        #expect(failing.map(\.check) == [.fcrdns])
        #expect(failing.first?.message.contains("does not resolve back") == true)
        #expect(failing.first?.fix == "PTR 2.0.0.127.in-addr.arpa mta.example.test. and A mta.example.test 127.0.0.2")
        await zone.finish()
    }

    @Test func requireAuthenticationRefusesToDeliverWhileACheckFails() async throws {
        let zone = try await IdentityZone()
        zone.dns.set("_dmarc.example.test", .txt, [])
        let engine = try zone.engine(requireAuthentication: true)
        await #expect(throws: KilnError.self) { try await engine.runUntilIdle() }
        zone.dns.set("_dmarc.example.test", .txt, [.text(["v=DMARC1; p=none"])])
        try await engine.runUntilIdle()
        await zone.finish()
    }
}
