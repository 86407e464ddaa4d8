import Foundation
import Kiln
import KilnCore
import KilnStore
import KilnTesting
import Logging
import Testing

/// A provider's connection limit holds for the whole cluster: two nodes running at once
/// each hold half of Gmail's 6 connections, and when one stops, the other takes them all.
@Suite(.enabled(if: PostgresTestServer.enabled, "set KILN_TEST_POSTGRES_URL (make test does)"), .serialized)
struct ClusterConnectionSliceTests {
    @Test func twoNodesShareAProvidersConnectionLimit() async throws {
        let db = try await PostgresTestServer.freshDatabase()
        let server = try await LoopbackSMTPServer.start()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-connection-slices-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // Leases of 5 s: a heartbeat every 1.25 s, a stopped node forgotten after 5 s.
        let configuration = try twoNodeConfiguration(db, route: server.url, leaseSeconds: 5, ["providers": ["gmail": ["maxConnections": 6]]])
        var secrets = SecretSource(baseDirectory: directory)
        secrets.environment = ClusterTests.Cluster.environment
        let engines = try ["a", "b"].map { node in
            try SendEngine(configuration: configuration, baseDirectory: directory, secrets: secrets, logger: Logger.test(), node: node)
        }
        let store = engines[0].store
        // The live slices: a slice whose node was late to renew it (a loaded machine) holds
        // nothing after its lease, whatever it says it was granted.
        func gmail() async throws -> [String: Int] {
            let now = SendEngine.wallClock()
            return try await store.quotaSlices("connections.gmail", window: "live").reduce(into: [:]) { $0[$1.node] = $1.expiresAt > now ? $1.granted : 0 }
        }
        func waitFor(_ condition: ([String: Int]) -> Bool) async throws -> [String: Int] {
            let deadline = ContinuousClock.now + .seconds(180)
            var slices = try await gmail()
            while !condition(slices), ContinuousClock.now < deadline {
                #expect(slices.values.reduce(0, +) <= 6, "the slices add up past the limit: \(slices)")
                try await Task.sleep(for: .milliseconds(100))
                slices = try await gmail()
            }
            return slices
        }
        let a = Task { try await engines[0].run() }
        let b = Task { try await engines[1].run() }
        let shared = try await waitFor { $0["a"] == 3 && $0["b"] == 3 }
        #expect(shared == ["a": 3, "b": 3], "\(shared)")
        // kiln status shows each live node's slice.
        let shown = try await engines[0].status().connectionSlices["gmail"] ?? []
        #expect(Set(shown.map(\.node)) == ["a", "b"] && shown.reduce(0) { $0 + $1.granted } <= 6, "status: \(shown)")
        // b stops cleanly: its slice goes back at once, and a takes all 6 once b is no
        // longer among the live nodes.
        engines[1].stop()
        try await b.value
        let alone = try await waitFor { $0["a"] == 6 }
        #expect(alone["a"] == 6 && (alone["b"] ?? 0) == 0, "\(alone)")
        engines[0].stop()
        try await a.value
        await server.shutdown()
        await db.drop()
    }
}
