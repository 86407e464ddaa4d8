import Foundation
import Kiln
import KilnCore
import KilnLoopback
import KilnStore
import KilnSubmission
import KilnTesting
import Logging

/// An engine on a temporary SQLite store with a fake network and a manual clock, and the
/// front door's gate over it. Identities: `example.com` owned by `default`, which
/// authorizes the delegate tenant `partner` for `partner@example.com` in `bulk` only;
/// `acme.test` owned by `acme`.
final class GateHarness: Sendable {
    let directory: String
    let network: FakeNetwork
    let clock = ManualClock()
    let engine: SendEngine
    let gate: SubmissionGate

    init(tenants: [Configuration.Tenant] = [.init(name: "acme"), .init(name: "partner")], trusted: [Configuration.TrustedNetwork] = [],
         script: @escaping LoopbackSMTPServer.Script = { _ in nil }, throttle: LoginThrottle = LoginThrottle()) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-gate-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        network = FakeNetwork(script: script)
        let configuration = Configuration(
            store: .init(path: "kiln.sqlite"), senderId: "Test",
            identities: [
                .init(domain: "example.com", returnPathDomain: "bounce.example.com",
                      authorizations: [.init(tenant: "partner", fromAddresses: ["partner@example.com"], configurationSets: ["bulk"])]),
                .init(domain: "acme.test", owner: "acme"),
            ],
            pools: [.init(name: "p", ips: ["127.0.0.2"], scaling: .fixed)],
            delivery: .init(mode: .routes, routes: ["*": "smtp://mx.test.invalid:25"], heloName: "mta.example.com", connectTimeoutSeconds: 5,
                            transferTimeoutSeconds: 20, tls: Configuration.TLSPolicy.none),
            providers: Configuration.ProviderProfileOverride.unthrottled,
            configurationSets: [.init(name: "bulk", pool: "p"), .init(name: "other", pool: "p")], defaultConfigurationSet: "bulk",
            feedback: .init(returnPathSecretEnv: "KILN_TEST_RETURN_PATH"))
        var withSubmission = configuration
        withSubmission.tenants = tenants
        withSubmission.submission = .init(smtp: .init(listen: ["127.0.0.1:2587"], trustedNetworks: trusted))
        var source = SecretSource(baseDirectory: directory)
        source.environment["KILN_TEST_RETURN_PATH"] = "return-path-test-secret-0123"
        engine = try SendEngine(configuration: withSubmission, baseDirectory: directory, secrets: source, logger: Logger(label: "test"), clock: clock,
                                reputationCheckInterval: .milliseconds(50), transport: network.transport)
        gate = try SubmissionGate(engine: engine, throttle: throttle, logger: Logger(label: "test"))
    }

    /// Stores a credential with a cheap hash (tests only) and returns its secret.
    func credential(_ name: String, tenant: String, identities: [String] = [], from: [String] = [], sources: [String] = []) async throws -> String {
        let secret = CredentialSecret.generate()
        try await engine.store.createCredential(CredentialRecord(
            name: name, tenant: tenant, identities: identities, fromAddresses: from, sources: sources,
            secretHash: try CredentialSecret.hash(secret, rounds: 1_000), createdAt: clock.now()))
        clock.advance(by: .seconds(3))  // past the gate's credential cache
        return secret
    }

    static func raw(from: String, to: String = "ann@gmail.com", extra: String = "") -> [UInt8] {
        Array("From: Sender <\(from)>\r\nTo: \(to)\r\nSubject: Hello\r\n\(extra)\r\nHi there.\r\n".utf8)
    }

    func finish() {
        try? FileManager.default.removeItem(atPath: directory)
    }
}
