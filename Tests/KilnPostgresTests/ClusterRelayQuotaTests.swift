import Foundation
import Kiln
import KilnCore
import KilnStore
import KilnTesting
import Logging
import Testing

/// The shared relay's daily limit holds for the whole cluster: two nodes on one
/// PostgreSQL queue, a cold pool that spills nearly everything, a relay limited to 30 a
/// day. Driven through most of a day on a manual clock, an hour at a time: at the relay's
/// pace each node alone would send about one an hour through it, 46 together.
@Suite(.enabled(if: PostgresTestServer.enabled, "set KILN_TEST_POSTGRES_URL (make test does)"), .serialized)
struct ClusterRelayQuotaTests {
    @Test func twoNodesSendAtMostTheRelaysDailyLimitThroughItTogether() async throws {
        let db = try await PostgresTestServer.freshDatabase()
        let dedicated = try await LoopbackSMTPServer.start()
        let relay = try await LoopbackSMTPServer.start()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-relay-quota-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let configuration = try twoNodeConfiguration(db, route: dedicated.url, leaseSeconds: 60, pool: ["spillover": "always", "spillWaitSeconds": 0], [
            "sharedPool": ["url": relay.url, "dailyLimit": 30],
            "providers": ["gmail": ["coldHourly": 1, "warmHourly": 2]],
        ])
        var secrets = SecretSource(baseDirectory: directory)
        secrets.environment = ClusterTests.Cluster.environment
        // A minute into a UTC day: the whole run stays in one window of the daily limit.
        let clock = ManualClock(Timestamp(nanoseconds: (1_800_000_000 - 8 * 3_600 + 60) * 1_000_000_000))
        let nodes = try ["a", "b"].map { node in
            try SendEngine(configuration: configuration, baseDirectory: directory, secrets: secrets, logger: Logger.test(), clock: clock, node: node)
        }
        let to = try (0..<400).map { try EmailAddress("user\($0)@gmail.com") }
        _ = try await nodes[0].submit(OutgoingMessage(MessageDraft(from: try EmailAddress("news@example.com"), to: to, subject: "Hi", text: "Hello\n")))

        // 23 hours, an hour at a time; each node delivers what is due in turn.
        for _ in 0..<23 {
            for node in nodes { try await node.runUntilIdle() }
            clock.advance(by: .seconds(3_600))
        }
        let throughRelay = relay.messages.flatMap(\.recipients).count
        let slices = try await nodes[0].store.quotaSlices("sharedRelay.daily", window: QuotaSlice.day(of: clock.now()))
        print("relay quota: \(throughRelay) through the relay, \(dedicated.messages.count) from the IPs; slices \(slices.map { "\($0.node) \($0.used)/\($0.granted)" })")
        #expect(throughRelay <= 30, "the relay took \(throughRelay) in a day limited to 30")
        // Together the nodes would send more than the limit: they reach it.
        #expect(throughRelay >= 28, "the slices let only \(throughRelay) through")
        #expect(Set(slices.map(\.node)) == ["a", "b"])
        #expect(slices.reduce(0) { $0 + $1.used } == throughRelay, "\(slices)")
        await dedicated.shutdown()
        await relay.shutdown()
        await db.drop()
    }
}
