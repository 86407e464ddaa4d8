import Foundation
import KilnCore
@testable import KilnPostgres
import KilnStore
import KilnTesting
import Synchronization
import Testing

/// The store contract on PostgreSQL: every check on a new database, each `open()` a new
/// store on it (another node). Serialized: a check reading the event log waits for every
/// transaction open on the server, and each check holds a pool of connections.
@Suite(.serialized, .enabled(if: PostgresTestServer.enabled, "set KILN_TEST_POSTGRES_URL (make test does)"))
struct PostgresStoreContractTests {
    @Test(arguments: StoreContract.checks)
    func thePostgreSQLStoreKeepsTheContract(_ check: StoreContract.Check) async throws {
        let db = try await PostgresTestServer.freshDatabase()
        let problems: [String]
        do {
            problems = try await check.run { db.store() }
        } catch {
            await db.drop()
            throw error
        }
        await db.drop()
        #expect(problems == [])
    }
}

/// What only a store shared by several nodes does: heartbeats that count the live nodes,
/// a node list, one run per node name, each node's own warm-up state; and the server's
/// errors.
@Suite(.enabled(if: PostgresTestServer.enabled, "set KILN_TEST_POSTGRES_URL (make test does)"))
struct PostgresStoreTests {
    let t0 = Timestamp(nanoseconds: 1_800_000_000_000_000_000)

    func submission(_ recipients: [String], set: String = "bulk", suppressed: Set<String> = []) -> Submission {
        Submission(
            content: StoredContent(data: Array("Subject: hi\r\n\r\nbody\r\n".utf8), envelopeDomain: "bounce.example.com", configurationSet: set, fromDomain: "example.com"),
            recipients: recipients.map { Submission.Recipient(address: $0, provider: MailboxProvider.classify(domain: String($0.split(separator: "@").last!)) ?? .other, suppressed: suppressed.contains($0) ? .manual : nil) })
    }

    @Test func aNewDatabaseRunsEveryMigrationOnce() async throws {
        let db = try await PostgresTestServer.freshDatabase()
        #expect(try await db.store().migrate() == PostgresSchema.migrations.count)
        #expect(try await db.store().migrate() == 0)
        await db.drop()
    }

    @Test func heartbeatsCountTheLiveNodesAndTheNodeListSaysWhatEachHolds() async throws {
        let db = try await PostgresTestServer.freshDatabase()
        let store = db.store()
        _ = try await store.enqueue([submission(["a@gmail.com", "b@gmail.com"])], now: t0)
        let a = NodeHeartbeat(owner: "a/run1", node: "a", ips: ["127.0.0.2"])
        let b = NodeHeartbeat(owner: "b/run1", node: "b", ips: ["127.0.0.4"])
        let leased = try await store.lease(limit: 1, owner: a.owner, now: t0, leaseUntil: t0 + .seconds(10), excluding: [], pausedSets: [])
        #expect(leased.count == 1)
        // a renews at t0+8 until t0+18; b's heartbeat at t0+15 takes nothing back.
        #expect(try await store.heartbeat(a, now: t0 + .seconds(8), leaseUntil: t0 + .seconds(18)) == HeartbeatResult(recovered: 0, liveNodes: 1))
        #expect(try await store.heartbeat(b, now: t0 + .seconds(15), leaseUntil: t0 + .seconds(25)) == HeartbeatResult(recovered: 0, liveNodes: 2))
        // a stops renewing: at t0+19 its lease has expired and b's heartbeat takes it back;
        // a's last heartbeat is more than a lease time (10 s) old: b counts itself alone.
        #expect(try await store.heartbeat(b, now: t0 + .seconds(19), leaseUntil: t0 + .seconds(29)) == HeartbeatResult(recovered: 1, liveNodes: 1))
        let again = try await store.lease(limit: 5, owner: b.owner, now: t0 + .seconds(19), leaseUntil: t0 + .seconds(29), excluding: [], pausedSets: [])
        #expect(Set(again.map(\.recipient)) == ["a@gmail.com", "b@gmail.com"])
        let nodes = try await store.nodes()
        #expect(nodes.map(\.node) == ["a", "b"])
        #expect(nodes[1].leased == 2 && nodes[0].leased == 0)
        #expect(nodes[1].ips == ["127.0.0.4"])
        await db.drop()
    }

    @Test func aNodeRestartTakesBackOnlyItsOwnLeasesAndOneNodeRunsOnce() async throws {
        let db = try await PostgresTestServer.freshDatabase()
        let store = db.store()
        _ = try await store.enqueue([submission(["a@gmail.com", "b@gmail.com", "c@gmail.com"])], now: t0)
        _ = try await store.lease(limit: 2, owner: "a/old-run", now: t0, leaseUntil: t0 + .seconds(3600), excluding: [], pausedSets: [])
        _ = try await store.lease(limit: 1, owner: "b/run", now: t0, leaseUntil: t0 + .seconds(3600), excluding: [], pausedSets: [])
        var claim: DeliveryClaim? = try await store.beginDelivery(node: "a", now: t0 + .seconds(1))
        #expect(claim?.recovered == 2)
        // A second process as node a is refused while the first runs.
        await #expect(throws: KilnError.self) { _ = try await store.beginDelivery(node: "a", now: t0 + .seconds(2)) }
        // Node "ab" is another node: its prefix does not take a's leases or lock.
        let other = try await store.beginDelivery(node: "ab", now: t0 + .seconds(2))
        #expect(other.recovered == 0)
        claim = nil
        // Once a's run ended (the lock's connection closes), a new run as a can start.
        var restarted: DeliveryClaim?
        // Within 30 s of wall time: the whole suite beside it can delay the connection's close.
        let deadline = ContinuousClock.now + .seconds(30)
        while restarted == nil, ContinuousClock.now < deadline {
            restarted = try? await store.beginDelivery(node: "a", now: t0 + .seconds(3))
            if restarted == nil { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(restarted != nil)
        withExtendedLifetime((claim, other, restarted)) {}
        await db.drop()
    }

    @Test func eachNodeSavesItsOwnIPsWarmUpState() async throws {
        let db = try await PostgresTestServer.freshDatabase()
        let store = db.store()
        let warm = WarmupTracker(now: t0)
        try await store.saveShaping(SavedShaping(pairs: [PairSnapshot(ip: "127.0.0.2", provider: .gmail, warmup: warm)],
                                                 activePools: ["p": ["127.0.0.2"]], ownedIPs: ["127.0.0.2", "127.0.0.3"]))
        try await store.saveShaping(SavedShaping(pairs: [PairSnapshot(ip: "127.0.0.4", provider: .gmail, warmup: warm)],
                                                 activePools: ["p": ["127.0.0.4", "127.0.0.5"]], ownedIPs: ["127.0.0.4", "127.0.0.5"]))
        // Node a saves again with .3 active now: b's rows stay.
        try await store.saveShaping(SavedShaping(pairs: [PairSnapshot(ip: "127.0.0.2", provider: .gmail, warmup: warm)],
                                                 activePools: ["p": ["127.0.0.3"]], ownedIPs: ["127.0.0.2", "127.0.0.3"]))
        let loaded = try #require(try await store.loadShaping())
        #expect(Set(loaded.pairs.map(\.ip)) == ["127.0.0.2", "127.0.0.4"])
        #expect(loaded.activePools["p"] == ["127.0.0.3", "127.0.0.4", "127.0.0.5"])
        await db.drop()
    }

    @Test func aBadURLOrAnUnreachableServerIsAClearError() async throws {
        #expect(throws: KilnError.self) { try PostgresSettings(url: "postgres://kiln:secret@127.0.0.1/kiln", password: nil) }
        #expect(throws: KilnError.self) { try PostgresSettings(url: "mysql://kiln@127.0.0.1/kiln", password: nil) }
        #expect(throws: KilnError.self) { try PostgresSettings(url: "postgres://kiln@127.0.0.1/", password: nil) }
        let settings = try PostgresSettings(url: "postgres://kiln@127.0.0.1:1/kiln", password: "hunter2-secret", tls: .disable)
        let error = await #expect(throws: KilnError.self) { try await PostgresStore(settings: settings).counts() }
        #expect(error?.description.contains("hunter2") == false)
        #expect(error?.description.contains("postgres://kiln@127.0.0.1:1/kiln") == true)
    }
}
