import Foundation
import Kiln
import KilnCore
import KilnStore
import KilnTesting
import Logging
import Synchronization
import Testing

/// A managed pool's `maxIPs` holds for the whole cluster: two nodes, each with two of the
/// pool's four IPs, and a backlog that makes each want both of its own, end with three
/// active between them when the pool allows three (each alone would take two: four).
@Suite(.enabled(if: PostgresTestServer.enabled, "set KILN_TEST_POSTGRES_URL (make test does)"), .serialized)
struct ClusterPoolScalingTests {
    @Test func twoNodesScaleAPoolWithinItsMaxIPsTogether() async throws {
        let db = try await PostgresTestServer.freshDatabase()
        // A receiver that keeps every message waiting, so the backlog stays while both plan.
        let sources = SourceAddresses()
        let server = try await LoopbackSMTPServer.start { command in
            sources.seen.withLock { _ = $0.insert(command.clientAddress) }
            if case .recipient = command.kind { return SMTPReply(code: 451, enhancedStatus: "4.3.0", text: "try later") }
            return nil
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-pool-scaling-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let configuration = try twoNodeConfiguration(db, route: server.url, leaseSeconds: 5,
                                                     pool: ["scaling": "managed", "minIPs": 1, "maxIPs": 3], [:])
        var secrets = SecretSource(baseDirectory: directory)
        secrets.environment = ClusterTests.Cluster.environment
        let engines = try ["a", "b"].map { node in
            try SendEngine(configuration: configuration, baseDirectory: directory, secrets: secrets, logger: Logger.test(), node: node)
        }
        // 2,000 Gmail recipients: 83 an hour over a day, more than one cold IP's 20 an
        // hour, so each node alone would take a second IP.
        let list = directory + "/list.csv"
        try ("email\n" + (0..<2_000).map { "user\($0)@gmail.com\n" }.joined()).write(toFile: list, atomically: true, encoding: .utf8)
        let runner = CampaignRunner(engine: engines[0])
        let record = try await runner.ingest(try await runner.create(id: "s1", recipientsFile: list,
                                                                     template: MessageTemplate(from: "news@example.com", subject: "Hi", text: "Hello.\n"),
                                                                     configurationSet: nil))
        #expect(record.accepted == 2_000)

        let store = engines[0].store
        func active() async throws -> [String: Int] {
            try await store.quotaSlices("active-ips.p", window: "live").reduce(into: [:]) { $0[$1.node] = $1.granted }
        }
        let a = Task { try await engines[0].run() }
        let b = Task { try await engines[1].run() }
        // Both nodes have planned (each plans at its start) and said what they hold.
        let deadline = ContinuousClock.now + .seconds(60)
        var seen = try await active()
        while !(seen["a"] != nil && seen["b"] != nil && seen.values.reduce(0, +) == 3), ContinuousClock.now < deadline {
            #expect(seen.values.reduce(0, +) <= 3, "the nodes hold more than the pool's maxIPs: \(seen)")
            try await Task.sleep(for: .milliseconds(100))
            seen = try await active()
        }
        #expect(seen.values.reduce(0, +) == 3 && seen.values.allSatisfy { $0 >= 1 }, "active IPs per node: \(seen)")
        // A few heartbeats later, still three: nobody took more.
        try await Task.sleep(for: .seconds(3))
        let later = try await active()
        #expect(later.values.reduce(0, +) == 3, "active IPs per node later: \(later)")
        // kiln status shows each node's part of the pool.
        let pool = try await engines[0].status().pools.first
        #expect(pool?.activeByNode?.values.reduce(0, +) == 3 && pool?.maxIPs == 3, "status: \(String(describing: pool))")
        let used = sources.seen.withLock { $0 }
        #expect(used.count <= 3, "attempts came from more IPs than the pool's maxIPs: \(used.sorted())")
        engines[0].stop()
        engines[1].stop()
        try await a.value
        try await b.value
        await server.shutdown()
        await db.drop()
    }
}

/// The source addresses a receiver saw.
final class SourceAddresses: Sendable {
    let seen = Mutex<Set<String>>([])
}
