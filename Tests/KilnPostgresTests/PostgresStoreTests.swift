import Foundation
import KilnCore
@testable import KilnPostgres
import KilnStore
import Synchronization
import Testing

/// The PostgreSQL store against a real server: the same semantics as SQLiteStore, and
/// what only a shared store does (concurrent lessees, lease takeover, node locks).
@Suite(.enabled(if: PostgresTestServer.enabled, "set KILN_TEST_POSTGRES_URL (make test does)"))
struct PostgresStoreTests {
    let t0 = Timestamp(nanoseconds: 1_800_000_000_000_000_000)

    func submission(_ recipients: [String], set: String = "bulk", suppressed: Set<String> = []) -> Submission {
        Submission(
            content: StoredContent(data: Array("Subject: hi\r\n\r\nbody\r\n".utf8), envelopeDomain: "bounce.example.com", configurationSet: set, fromDomain: "example.com"),
            recipients: recipients.map { Submission.Recipient(address: $0, provider: MailboxProvider.classify(domain: String($0.split(separator: "@").last!)) ?? .other, suppressed: suppressed.contains($0) ? .manual : nil) })
    }

    @Test func queueLeaseRecordAndReadBack() async throws {
        let db = try await PostgresTestServer.freshDatabase()
        let store = db.store()
        #expect(try await store.migrate() == PostgresSchema.migrations.count)
        let ids = try await store.enqueue([submission(["a@gmail.com", "b@yahoo.com", "c@gmail.com"], suppressed: ["c@gmail.com"]),
                                           submission(["d@outlook.com"], set: "other")], now: t0)
        #expect(ids.map(\.count) == [3, 1])
        let leased = try await store.lease(limit: 10, owner: "n/1", now: t0 + .seconds(1), leaseUntil: t0 + .seconds(61), excluding: [], pausedSets: [])
        #expect(leased.map(\.recipient) == ["a@gmail.com", "b@yahoo.com", "d@outlook.com"])
        // Nothing left to lease: the suppressed one is final, the rest are leased.
        #expect(try await store.lease(limit: 10, owner: "n/2", now: t0 + .seconds(1), leaseUntil: t0 + .seconds(61), excluding: [], pausedSets: []).isEmpty)
        let contents = try await store.contents(ids: Array(Set(leased.map(\.contentID))))
        #expect(contents.count == 2)
        #expect(contents[leased[0].contentID]?.configurationSet == "bulk")
        #expect(contents[leased[0].contentID]?.data == Array("Subject: hi\r\n\r\nbody\r\n".utf8))

        let ok = SMTPReply(code: 250, enhancedStatus: "2.0.0", text: "ok")
        let unknown = SMTPReply(code: 550, enhancedStatus: "5.1.1", text: "no such user")
        let later = SMTPReply(code: 451, enhancedStatus: "4.3.0", text: "try later")
        let retry = t0 + .seconds(600)
        try await store.record([
            Outcome(id: leased[0].id, state: .delivered, reply: ok, via: .dedicated(ip: "127.0.0.2")),
            Outcome(id: leased[1].id, state: .bounced, reply: unknown, via: .dedicated(ip: "127.0.0.3"), suppressRecipient: "b@yahoo.com"),
            Outcome(id: leased[2].id, state: .deferred, nextAttemptAt: retry, reply: later, via: .shared),
        ], events: [DeliveryEvent(kind: .delivery, time: t0, messageID: leased[0].id, recipient: "a@gmail.com", provider: .gmail, via: .dedicated(ip: "127.0.0.2"), reply: ok)],
           now: t0 + .seconds(2))
        let records = try await store.messages(ids: ids.flatMap { $0 })
        #expect(records.map(\.state) == [.delivered, .bounced, .suppressed, .deferred])
        #expect(records[0].via == .dedicated(ip: "127.0.0.2"))
        #expect(records[1].lastReply == unknown)
        #expect(records[3].nextAttemptAt == retry)
        #expect(records[3].attempts == 1)
        #expect(try await store.suppression(of: "B@yahoo.com")?.reason == .bounce)
        // The enqueue stored an accepted event per queued message (not the suppressed one).
        let events = try await store.events(after: 0)
        #expect(events.map(\.event.kind) == [.accepted, .accepted, .accepted, .delivery])
        #expect(events.prefix(3).compactMap(\.event.recipient).sorted() == ["a@gmail.com", "b@yahoo.com", "d@outlook.com"])
        #expect(events[3].event.reply == ok && events[3].event.via == .dedicated(ip: "127.0.0.2"))
        let hours = try await store.reputationHours(now: t0 + .seconds(2), hours: 24)
        #expect(hours["bulk"]?.first?.sent == 2)
        #expect(hours["bulk"]?.first?.bounces == 1)
        // The deferred one comes due at its retry time.
        #expect(try await store.nextDue(pausedSets: [], excluding: []) == retry)
        #expect(try await store.nextDue(pausedSets: ["other"], excluding: []) == nil)
        await db.drop()
    }

    @Test func concurrentLesseesNeverTakeTheSameMessage() async throws {
        let db = try await PostgresTestServer.freshDatabase()
        let store = db.store()
        let recipients = (0..<2_000).map { "u\($0)@gmail.com" }
        _ = try await store.enqueue(stride(from: 0, to: recipients.count, by: 500).map { submission(Array(recipients[$0..<$0 + 500])) }, now: t0)
        let taken = try await withThrowingTaskGroup(of: [MessageID].self) { group in
            for lessee in 0..<8 {
                group.addTask {
                    var mine: [MessageID] = []
                    while true {
                        let batch = try await store.lease(limit: 37, owner: "n\(lessee)/x", now: t0 + .seconds(1), leaseUntil: t0 + .seconds(60),
                                                          excluding: [], pausedSets: [])
                        if batch.isEmpty { return mine }
                        mine += batch.map(\.id)
                    }
                }
            }
            var all: [[MessageID]] = []
            for try await ids in group { all.append(ids) }
            return all
        }
        let flat = taken.flatMap { $0 }
        #expect(flat.count == 2_000)
        #expect(Set(flat).count == 2_000)
        #expect(taken.filter { !$0.isEmpty }.count > 1)
        await db.drop()
    }

    @Test func anExpiredLeaseIsTakenOverAndARenewedOneIsNot() async throws {
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

    @Test func aNodeRestartTakesBackItsOwnLeasesAndOneNodeRunsOnce() async throws {
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

    @Test func pausesSuppressionsAndTheirPagesAreShared() async throws {
        let db = try await PostgresTestServer.freshDatabase()
        let one = db.store()
        let two = db.store()
        try await one.setPaused(true, scope: nil)
        try await one.setPaused(true, scope: "bulk")
        #expect(try await two.pausedScopes() == ["*", "bulk"])
        try await two.setPaused(false, scope: nil)
        #expect(try await one.pausedScopes() == ["bulk"])

        let entries = (0..<25).map { SuppressionEntry(address: "User\($0)@Example.com", reason: $0 % 2 == 0 ? .manual : .complaint, source: "test", createdAt: t0) }
        #expect(try await one.suppress(entries + [entries[0]]) == 25)
        #expect(try await one.suppress([SuppressionEntry(address: "user0@example.com", scope: "bulk", reason: .unsubscribe, source: "t", createdAt: t0)]) == 1)
        #expect(try await two.suppressionTotal() == 26)
        #expect(try await two.suppressionCounts()[.manual] == 13)
        #expect(try await two.suppressions(of: ["USER1@example.com", "nobody@example.com"], scope: "bulk") == ["USER1@example.com": .complaint])
        var seen: [String] = []
        var token: String?
        repeat {
            let page = try await two.suppressionPage(reason: nil, pageSize: 7, after: token)
            seen += page.entries.map { ($0.scope ?? "") + ":" + $0.address }
            token = page.nextToken
        } while token != nil
        #expect(seen.count == 26)
        #expect(seen == seen.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) })
        #expect(try await two.unsuppress("user0@example.com", scope: "bulk"))
        #expect(try await two.unsuppress("user0@example.com", scope: "bulk") == false)
        await db.drop()
    }

    @Test func campaignsIngestSkipSuppressedAndPageRecipients() async throws {
        let db = try await PostgresTestServer.freshDatabase()
        let store = db.store()
        let content = StoredContent(data: Array("{}".utf8), envelopeDomain: "bounce.example.com", configurationSet: "bulk", campaign: "c1", isTemplate: true)
        let record = try await store.createCampaign(id: "c1", content: content, recipientsFile: "list.csv", now: t0)
        #expect(try await store.createCampaign(id: "c1", content: content, recipientsFile: "other.csv", now: t0).contentID == record.contentID)
        try await store.suppress([SuppressionEntry(address: "x3@gmail.com", reason: .manual, source: "t", createdAt: t0)])
        let rows = (0..<10).map { CampaignRow(address: "x\($0)@gmail.com", provider: .gmail, variables: Array("{\"n\":\($0)}".utf8)) }
        #expect(try await store.ingest(campaign: "c1", contentID: record.contentID, rows: rows, rowsRead: 12, rejected: 1, duplicates: 1, complete: true, now: t0) == 9)
        let stored = try #require(try await store.campaign(id: "c1"))
        #expect((stored.rowsRead, stored.accepted, stored.suppressed, stored.rejectedRows, stored.duplicates, stored.ingestComplete) == (12, 9, 1, 1, 1, true))
        var addresses: [String] = []
        var after: MessageID?
        repeat {
            let page = try await store.recipients(contentID: record.contentID, after: after, limit: 4)
            addresses += page.addresses
            after = page.next
        } while after != nil
        #expect(addresses == rows.map(\.address).filter { $0 != "x3@gmail.com" })
        let leased = try await store.lease(limit: 1, owner: "o", now: t0, leaseUntil: t0 + .seconds(60), excluding: [], pausedSets: [])
        #expect(leased.first?.variables == Array("{\"n\":0}".utf8))
        let counts = try await store.campaignCounts(contentID: record.contentID)
        #expect(counts.counts.first { $0.state == .queued }?.count == 8)
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

    @Test func transactionalMailIsLeasedFirstAndTheReceivingHostIsKept() async throws {
        let db = try await PostgresTestServer.freshDatabase()
        let store = db.store()
        let bulk = try await store.enqueue([submission((0..<50).map { "b\($0)@gmail.com" })], now: t0)[0]
        var urgent = submission(["reset@gmail.com"], set: "tx")
        urgent.priority = 1
        let tx = try await store.enqueue([urgent], now: t0 + .seconds(60))[0]
        var paused = submission(["p@gmail.com"], set: "paused-tx")
        paused.priority = 1
        _ = try await store.enqueue([paused], now: t0 + .seconds(60))
        let first = try await store.lease(limit: 3, owner: "n/1", now: t0 + .seconds(61), leaseUntil: t0 + .seconds(120), excluding: [],
                                          pausedSets: ["paused-tx"])
        #expect(first.map(\.id) == tx + bulk.prefix(2))
        #expect(first.map(\.priority) == [1, 0, 0])
        let host = "smtp://mx2.example.com:25 (192.0.2.7)"
        var event = DeliveryEvent(kind: .delivery, time: t0 + .seconds(62), messageID: tx[0], recipient: "reset@gmail.com", provider: .gmail,
                                  via: .dedicated(ip: "127.0.0.2"), reply: SMTPReply(code: 250, enhancedStatus: "2.0.0", text: "ok"))
        event.host = host
        var outcome = Outcome(id: tx[0], state: .delivered, reply: event.reply, via: .dedicated(ip: "127.0.0.2"))
        outcome.host = host
        try await store.record([outcome], events: [event], now: t0 + .seconds(62))
        #expect(try await store.messages(ids: tx).first?.host == host)
        #expect(try await store.events(after: 0, limit: 100).last?.event.host == host)
        #expect(try await store.receivingHosts(deliveries: 100) == [HostCount(provider: .gmail, host: host, deliveries: 1)])
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
