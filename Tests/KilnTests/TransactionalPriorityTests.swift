import Foundation
import Kiln
import KilnCore
import KilnStore
import KilnTesting
import Logging
import Testing

/// A `transactional: true` configuration set goes ahead of the bulk backlog on the same
/// (IP, provider) lanes and within the same token buckets. The engine runs on the
/// in-memory store: nothing here needs a file.
@Suite struct TransactionalPriorityTests {
    func engine(network: FakeNetwork, clock: ManualClock, gmailColdHourly: Double) throws -> SendEngine {
        var providers = Configuration.ProviderProfileOverride.unthrottled
        providers["gmail"] = .init(coldHourly: gmailColdHourly, warmHourly: max(50_000, gmailColdHourly * 10))
        let configuration = Configuration(
            store: .init(path: "kiln.sqlite"), senderId: "Test",
            identities: [.init(domain: "example.com", returnPathDomain: "bounce.example.com")],
            pools: [.init(name: "p", ips: ["127.0.0.2"], scaling: .fixed, spillover: .never)],
            delivery: .init(mode: .routes, routes: ["*": "smtp://mx.test.invalid:25"], heloName: "mta.example.com", maxInFlight: 16,
                            tls: Configuration.TLSPolicy.none),
            providers: providers,
            configurationSets: [.init(name: "bulk", pool: "p"), .init(name: "tx", pool: "p", transactional: true)],
            defaultConfigurationSet: "bulk", feedback: .init(returnPathSecretEnv: "KILN_TEST_RETURN_PATH"))
        var secrets = SecretSource(baseDirectory: "/")
        secrets.environment["KILN_TEST_RETURN_PATH"] = "return-path-test-secret-0123"
        return try SendEngine(configuration: configuration, baseDirectory: "/", secrets: secrets, logger: Logger.test(),
                              clock: clock, transport: network.transport, store: InMemoryStore())
    }

    func message(_ to: [String], set: String) throws -> OutgoingMessage {
        OutgoingMessage(MessageDraft(from: try EmailAddress("news@example.com"), to: try to.map(EmailAddress.init), subject: "Hi", text: "Hello\n"),
                        configurationSet: set)
    }

    @Test func transactionalMailTakesTheNextTokenAheadOfTheBulkBacklog() async throws {
        let network = FakeNetwork()
        let engine = try engine(network: network, clock: ManualClock(), gmailColdHourly: 20)
        let bulk = try await engine.submit(message((0..<300).map { "user\($0)@gmail.com" }, set: "bulk"))
        let reset = try await engine.submit(message(["reset@gmail.com"], set: "tx"))
        try await engine.runUntilIdle()
        // A cold IP at 20 an hour sends one or two within the test: the reset is one of them.
        let received = network.messages.flatMap(\.recipients)
        #expect(received.contains("reset@gmail.com"))
        #expect(received.count <= 2)
        let record = try #require(try await engine.store.messages(ids: reset).first)
        #expect(record.state == .delivered)
        #expect(record.via == .dedicated(ip: "127.0.0.2"))
        // It used the lane's token: the bulk that went is the rest of the allowance, no more.
        let delivered = try await engine.store.messages(ids: bulk).filter { $0.state == .delivered }
        #expect(delivered.count == received.count - 1)
    }

    @Test func transactionalMailIsSentFirstFromABacklogOfEveryProvider() async throws {
        let network = FakeNetwork()
        let engine = try engine(network: network, clock: ManualClock(), gmailColdHourly: 1_000_000)
        _ = try await engine.submit(message((0..<500).map { "user\($0)@\(["gmail.com", "yahoo.com"][$0 % 2])" }, set: "bulk"))
        _ = try await engine.submit(message(["reset@yahoo.com", "reset@gmail.com"], set: "tx"))
        try await engine.runUntilIdle()
        let received = network.messages.flatMap(\.recipients)
        #expect(received.count == 502)
        #expect(Set(received.prefix(2)) == ["reset@yahoo.com", "reset@gmail.com"])
    }
}
