import Foundation
import KilnCore
import KilnPostgres
import KilnStore
import Testing

/// Fencing by lease epoch on PostgreSQL, with two nodes (two store instances): node a
/// stalls past its lease, node b takes the message over; a's late outcome changes nothing
/// about the message and is kept as a `staleOutcome` event naming a. The same rule as
/// SQLite (`FencingTests`).
@Suite(.enabled(if: PostgresTestServer.enabled, "set KILN_TEST_POSTGRES_URL (make test does)"))
struct PostgresFencingTests {
    let t0 = Timestamp(nanoseconds: 1_800_000_000_000_000_000)
    let unknown = SMTPReply(code: 550, enhancedStatus: "5.1.1", text: "user unknown")
    let ok = SMTPReply(code: 250, enhancedStatus: "2.0.0", text: "ok")
    let ownerA = "a/host-1-1"
    let ownerB = "b/host-2-1"

    func submission(_ recipients: [String]) -> Submission {
        Submission(
            content: StoredContent(data: Array("Subject: hi\r\n\r\nbody\r\n".utf8), envelopeDomain: "bounce.example.com", configurationSet: "bulk",
                                   fromDomain: "example.com"),
            recipients: recipients.map { Submission.Recipient(address: $0, provider: .gmail) })
    }

    /// Node a leases the message (epoch e1) and stops renewing; node b's heartbeat takes it
    /// back once the lease has expired, and b leases it (epoch e2 > e1).
    func leasedByAThenB(_ a: PostgresStore, _ b: PostgresStore) async throws -> (id: MessageID, a: LeasedMessage, b: LeasedMessage) {
        let id = try await a.enqueue([submission(["x@gmail.com"])], now: t0)[0][0]
        let first = try #require(try await a.lease(limit: 10, owner: ownerA, now: t0, leaseUntil: t0 + .seconds(10), excluding: [], pausedSets: []).first)
        #expect(first.id == id)
        let t1 = t0 + .seconds(11)
        #expect(try await b.heartbeat(NodeHeartbeat(owner: ownerB, node: "b", ips: []), now: t1, leaseUntil: t1 + .seconds(10)).recovered == 1)
        let second = try #require(try await b.lease(limit: 10, owner: ownerB, now: t1, leaseUntil: t1 + .seconds(10), excluding: [], pausedSets: []).first)
        #expect(second.id == id)
        #expect(second.epoch > first.epoch)
        return (id, first, second)
    }

    func bounce(_ lease: LeasedMessage, owner: String) -> Outcome {
        Outcome(id: lease.id, state: .bounced, reply: unknown, via: .dedicated(ip: "127.0.0.2"), suppressRecipient: "x@gmail.com",
                epoch: lease.epoch, owner: owner)
    }

    func delivered(_ lease: LeasedMessage, owner: String) -> Outcome {
        Outcome(id: lease.id, state: .delivered, reply: ok, via: .dedicated(ip: "127.0.0.3"), epoch: lease.epoch, owner: owner)
    }

    func bounceEvent(_ id: MessageID, at time: Timestamp) -> DeliveryEvent {
        DeliveryEvent(kind: .bounce, time: time, messageID: id, recipient: "x@gmail.com", provider: .gmail, via: .dedicated(ip: "127.0.0.2"),
                      reply: unknown, replyClass: .permanentUser, attempt: 1)
    }

    func deliveryEvent(_ id: MessageID, at time: Timestamp) -> DeliveryEvent {
        DeliveryEvent(kind: .delivery, time: time, messageID: id, recipient: "x@gmail.com", provider: .gmail, via: .dedicated(ip: "127.0.0.3"),
                      reply: ok, replyClass: .success, attempt: 1)
    }

    /// What a stale bounce must not have touched: one attempt (b's), delivered, no
    /// suppression, no bounce in the reputation counters (of the set and of the tenant).
    func expectBsDeliveryStands(_ store: PostgresStore, _ id: MessageID, now: Timestamp) async throws {
        let record = try #require(try await store.messages(ids: [id]).first)
        #expect(record.state == .delivered)
        #expect(record.attempts == 1)
        #expect(record.lastReply == ok)
        #expect(record.via == .dedicated(ip: "127.0.0.3"))
        #expect(try await store.suppression(of: "x@gmail.com") == nil)
        let hours = try await store.reputationHours(now: now, hours: 2)
        for scope in ["bulk", PausedScope.tenant("default")] {
            #expect(hours[scope]?.map(\.bounces).reduce(0, +) == 0)
            #expect(hours[scope]?.map(\.sent).reduce(0, +) == 1)
        }
        let kinds = try await store.events(ofMessage: id, limit: 100).map(\.kind)
        #expect(!kinds.contains(.bounce))
        #expect(kinds.filter { $0 == .delivery }.count == 1)
    }

    @Test func aStaleOutcomeAfterTheNewHoldersOneChangesNothingAndIsKeptAsAnEvent() async throws {
        let db = try await PostgresTestServer.freshDatabase()
        let (nodeA, nodeB) = (db.store(), db.store())
        let (id, a, b) = try await leasedByAThenB(nodeA, nodeB)
        let t1 = t0 + .seconds(12)
        try await nodeB.record([delivered(b, owner: ownerB)], events: [deliveryEvent(id, at: t1)], now: t1)
        // a wakes up and records its bounce under e1.
        let t2 = t0 + .seconds(13)
        try await nodeA.record([bounce(a, owner: ownerA)], events: [bounceEvent(id, at: t2)], now: t2)
        try await expectBsDeliveryStands(nodeA, id, now: t2)
        let stale = try await nodeA.events(ofMessage: id, limit: 100).filter { $0.kind == .staleOutcome }
        #expect(stale.count == 1)
        let event = try #require(stale.first)
        #expect(event.detail?.contains(ownerA) == true)
        #expect(event.detail?.contains("lease epoch \(a.epoch)") == true)
        #expect(event.detail?.contains("would have recorded bounced") == true)
        #expect(event.detail?.contains("the message is at lease epoch \(b.epoch), delivered") == true)
        #expect(event.reply == unknown && event.via == .dedicated(ip: "127.0.0.2"))
        #expect(event.recipient == "x@gmail.com" && event.provider == .gmail)
        #expect(event.time == t2)
        await db.drop()
    }

    @Test func aStaleOutcomeBeforeTheNewHoldersOneDoesNotTakeItsPlace() async throws {
        let db = try await PostgresTestServer.freshDatabase()
        let (nodeA, nodeB) = (db.store(), db.store())
        let (id, a, b) = try await leasedByAThenB(nodeA, nodeB)
        let t1 = t0 + .seconds(12)
        try await nodeA.record([bounce(a, owner: ownerA)], events: [bounceEvent(id, at: t1)], now: t1)
        let held = try #require(try await nodeB.messages(ids: [id]).first)
        #expect(held.state == .leased && held.attempts == 0)
        let t2 = t0 + .seconds(13)
        try await nodeB.record([delivered(b, owner: ownerB)], events: [deliveryEvent(id, at: t2)], now: t2)
        try await expectBsDeliveryStands(nodeB, id, now: t2)
        let stale = try await nodeB.events(ofMessage: id, limit: 100).filter { $0.kind == .staleOutcome }
        #expect(stale.count == 1)
        #expect(stale.first?.detail?.contains(ownerA) == true)
        #expect(stale.first?.detail?.contains("the message is at lease epoch \(b.epoch), leased") == true)
        await db.drop()
    }

    @Test func aStaleOutcomeInABatchLeavesTheOthersAndTheirEventsAlone() async throws {
        let db = try await PostgresTestServer.freshDatabase()
        let (nodeA, nodeB) = (db.store(), db.store())
        let (id, a, _) = try await leasedByAThenB(nodeA, nodeB)
        let other = try await nodeA.enqueue([submission(["y@gmail.com"])], now: t0)[0][0]
        let t1 = t0 + .seconds(12)
        let mine = try #require(try await nodeA.lease(limit: 10, owner: ownerA, now: t1, leaseUntil: t1 + .seconds(10), excluding: [], pausedSets: []).first)
        #expect(mine.id == other)
        let sendEvent = DeliveryEvent(kind: .send, time: t1, messageID: other, recipient: "y@gmail.com", provider: .gmail)
        try await nodeA.record([bounce(a, owner: ownerA), delivered(mine, owner: ownerA)],
                               events: [bounceEvent(id, at: t1), sendEvent, deliveryEvent(other, at: t1)], now: t1)
        #expect(try await nodeA.messages(ids: [id, other]).map(\.state) == [.leased, .delivered])
        let kinds = try await nodeA.events(after: 0).map(\.event).filter { $0.time == t1 }.map(\.kind)
        // The caller's events in their order, less the stale message's; its stale event last.
        #expect(kinds == [.send, .delivery, .staleOutcome])
        await db.drop()
    }

    @Test func aStaleReleaseDoesNothing() async throws {
        let db = try await PostgresTestServer.freshDatabase()
        let (nodeA, nodeB) = (db.store(), db.store())
        let (id, a, b) = try await leasedByAThenB(nodeA, nodeB)
        try await nodeA.release([a.lease])
        #expect(try await nodeB.messages(ids: [id]).first?.state == .leased)
        let t1 = t0 + .seconds(12)
        #expect(try await nodeA.lease(limit: 10, owner: ownerA, now: t1, leaseUntil: t1 + .seconds(10), excluding: [], pausedSets: []).isEmpty)
        try await nodeB.release([b.lease])
        #expect(try await nodeB.messages(ids: [id]).first?.state == .queued)
        await db.drop()
    }

    @Test func theHeartbeatSaysWhichLeasesTheOwnerLost() async throws {
        let db = try await PostgresTestServer.freshDatabase()
        let (nodeA, nodeB) = (db.store(), db.store())
        let (_, a, b) = try await leasedByAThenB(nodeA, nodeB)
        let t1 = t0 + .seconds(12)
        let lostByA = try await nodeA.heartbeat(NodeHeartbeat(owner: ownerA, node: "a", ips: [], holding: [a.lease]), now: t1, leaseUntil: t1 + .seconds(10))
        #expect(lostByA.lost == [a.lease])
        #expect(lostByA.recovered == 0)
        let keptByB = try await nodeB.heartbeat(NodeHeartbeat(owner: ownerB, node: "b", ips: [], holding: [b.lease]), now: t1, leaseUntil: t1 + .seconds(10))
        #expect(keptByB.lost.isEmpty)
        await db.drop()
    }
}
