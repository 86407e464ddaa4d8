import Foundation
import Kiln
import KilnCore
import KilnTesting
import Logging
import Testing

/// A lease the run holds with no transfer behind it (a job lost between the engine and the
/// transport) is found by the audit at the heartbeats and given back: its message is sent
/// again, once, instead of staying leased and unsent for as long as the run lasts.
@Suite struct LeaseAuditTests {
    @Test(.timeLimit(.minutes(2))) func aLeaseWithNoTransferBehindItIsGivenBackAndItsMessageSent() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-lease-audit-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let configuration = Configuration(
            store: .init(path: "kiln.sqlite", leaseSeconds: 5), senderId: "Test",
            identities: [.init(domain: "example.com", returnPathDomain: "bounce.example.com")],
            pools: [.init(name: "p", ips: ["127.0.0.2"], scaling: .fixed, spillover: .never)],
            delivery: .init(mode: .routes, routes: ["*": "smtp://mx.test.invalid:25"], heloName: "mta.example.com", maxInFlight: 16,
                            tls: Configuration.TLSPolicy.none),
            providers: Configuration.ProviderProfileOverride.unthrottled,
            configurationSets: [.init(name: "bulk", pool: "p")],
            defaultConfigurationSet: "bulk", feedback: .init(returnPathSecretEnv: "KILN_TEST_RETURN_PATH"))
        var secrets = SecretSource(baseDirectory: directory)
        secrets.environment["KILN_TEST_RETURN_PATH"] = "return-path-test-secret-0123"
        let network = FakeNetwork()
        let clock = ManualClock()
        let engine = try SendEngine(configuration: configuration, baseDirectory: directory, secrets: secrets, logger: Logger.test(),
                                    clock: clock, transport: network.transport)
        // The first job the transport is given vanishes.
        network.loseJobs(1)
        let recipients = ["a@example.org", "b@example.org", "c@example.org"]
        let ids = try await engine.submit(OutgoingMessage(MessageDraft(from: try EmailAddress("news@example.com"), to: try recipients.map(EmailAddress.init),
                                                                       subject: "Hi", text: "Hello\n")))
        // Heartbeats come every quarter of the 5 s lease: the audit sees the lost job at one
        // and gives its lease back at the next. Each time a task of the run starts a wait,
        // the clock moves on 2 s: the delivery loop beats each time it wakes, so the leases,
        // renewed, never lapse.
        let run = Task { try await engine.run() }
        while network.messages.count < 3 {
            _ = await clock.nextSleep()
            clock.advance(by: .seconds(2))
        }
        engine.stop()
        try await run.value
        let received = network.messages.flatMap(\.recipients)
        #expect(received.sorted() == recipients, "every recipient once: \(received)")
        let states = try await engine.store.messages(ids: ids).map(\.state)
        #expect(states == [.delivered, .delivered, .delivered])
    }
}
