import Foundation
import KilnCore
import KilnStore
import Testing

/// Fencing by lease epoch: a holder that stalled past its lease (SIGSTOP, a frozen VM, a
/// partition) cannot overwrite what the next holder recorded. Its late outcome changes
/// nothing about the message and is kept as a `staleOutcome` event naming it.
@Suite struct FencingTests {
    let t0 = Timestamp(nanoseconds: 1_700_000_000_000_000_000)
    let unknown = SMTPReply(code: 550, enhancedStatus: "5.1.1", text: "user unknown")
    let ok = SMTPReply(code: 250, enhancedStatus: "2.0.0", text: "ok")

    /// A leases the message (epoch e1), its lease expires and is taken back, B leases it
    /// (epoch e2 > e1).
    func leasedByAThenB(_ store: SQLiteStore) async throws -> (id: MessageID, a: LeasedMessage, b: LeasedMessage) {
        let id = try await store.enqueue([submission(["x@gmail.com"])], now: t0)[0][0]
        let a = try #require(try await store.lease(limit: 10, owner: "a/run-1", now: t0, leaseUntil: t0 + .seconds(60)).first)
        #expect(a.id == id)
        // A stops renewing: at t0+61 its lease has expired and is taken back.
        #expect(try await store.recoverLeases(all: false, now: t0 + .seconds(61)) == 1)
        let b = try #require(try await store.lease(limit: 10, owner: "b/run-1", now: t0 + .seconds(61), leaseUntil: t0 + .seconds(121)).first)
        #expect(b.id == id)
        #expect(b.epoch > a.epoch)
        return (id, a, b)
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

    /// What a stale bounce must not have touched: one attempt (B's), delivered, no
    /// suppression, no bounce in the reputation counters.
    func expectBsDeliveryStands(_ store: SQLiteStore, _ id: MessageID, now: Timestamp) async throws {
        let record = try #require(try await store.messages(ids: [id]).first)
        #expect(record.state == .delivered)
        #expect(record.attempts == 1)
        #expect(record.lastReply == ok)
        #expect(record.via == .dedicated(ip: "127.0.0.3"))
        #expect(try await store.suppression(of: "x@gmail.com") == nil)
        let hours = try await store.reputationHours(now: now, hours: 2)
        #expect(hours["c"]?.map(\.bounces).reduce(0, +) == 0)
        #expect(hours["c"]?.map(\.sent).reduce(0, +) == 1)
        let kinds = try await store.events(ofMessage: id, limit: 100).map(\.kind)
        #expect(!kinds.contains(.bounce))
        #expect(kinds.filter { $0 == .delivery }.count == 1)
    }

    @Test func aStaleOutcomeAfterTheNewHoldersOneChangesNothingAndIsKeptAsAnEvent() async throws {
        let temp = try TemporaryStore()
        let store = try temp.open()
        let (id, a, b) = try await leasedByAThenB(store)
        let t1 = t0 + .seconds(70)
        try await store.record([delivered(b, owner: "b/run-1")], events: [deliveryEvent(id, at: t1)], now: t1)
        #expect(try await store.messages(ids: [id]).first?.state == .delivered)
        // A wakes up and records its bounce under e1.
        let t2 = t0 + .seconds(80)
        try await store.record([bounce(a, owner: "a/run-1")], events: [bounceEvent(id, at: t2)], now: t2)
        try await expectBsDeliveryStands(store, id, now: t2)
        let stale = try await store.events(ofMessage: id, limit: 100).filter { $0.kind == .staleOutcome }
        #expect(stale.count == 1)
        let event = try #require(stale.first)
        #expect(event.detail?.contains("a/run-1") == true)
        #expect(event.detail?.contains("lease epoch \(a.epoch)") == true)
        #expect(event.detail?.contains("would have recorded bounced") == true)
        #expect(event.detail?.contains("the message is at lease epoch \(b.epoch), delivered") == true)
        #expect(event.reply == unknown)
        #expect(event.recipient == "x@gmail.com" && event.provider == .gmail)
        // Destinations see it with the message's configuration set.
        let outbox = try await store.outboxEvents(after: .start, limit: 100).filter { $0.event.kind == .staleOutcome }
        #expect(outbox.map(\.configurationSet) == ["c"])
    }

    @Test func aStaleOutcomeBeforeTheNewHoldersOneDoesNotTakeItsPlace() async throws {
        let temp = try TemporaryStore()
        let store = try temp.open()
        let (id, a, b) = try await leasedByAThenB(store)
        // A's bounce comes first, while B holds the lease: B's lease stands.
        let t1 = t0 + .seconds(70)
        try await store.record([bounce(a, owner: "a/run-1")], events: [bounceEvent(id, at: t1)], now: t1)
        let held = try #require(try await store.messages(ids: [id]).first)
        #expect(held.state == .leased && held.attempts == 0)
        let t2 = t0 + .seconds(80)
        try await store.record([delivered(b, owner: "b/run-1")], events: [deliveryEvent(id, at: t2)], now: t2)
        try await expectBsDeliveryStands(store, id, now: t2)
        let stale = try await store.events(ofMessage: id, limit: 100).filter { $0.kind == .staleOutcome }
        #expect(stale.count == 1)
        #expect(stale.first?.detail?.contains("a/run-1") == true)
        #expect(stale.first?.detail?.contains("the message is at lease epoch \(b.epoch), leased") == true)
    }

    @Test func aStaleOutcomeInABatchLeavesTheOthersAndTheirEventsAlone() async throws {
        let temp = try TemporaryStore()
        let store = try temp.open()
        let (id, a, _) = try await leasedByAThenB(store)
        let other = try await store.enqueue([submission(["y@gmail.com"])], now: t0)[0][0]
        let mine = try #require(try await store.lease(limit: 10, owner: "a/run-1", now: t0 + .seconds(62), leaseUntil: t0 + .seconds(122)).first)
        #expect(mine.id == other)
        let t1 = t0 + .seconds(70)
        let sendEvent = DeliveryEvent(kind: .send, time: t1, messageID: other, recipient: "y@gmail.com", provider: .gmail)
        try await store.record([bounce(a, owner: "a/run-1"), delivered(mine, owner: "a/run-1")],
                               events: [bounceEvent(id, at: t1), sendEvent, deliveryEvent(other, at: t1)], now: t1)
        #expect(try await store.messages(ids: [id, other]).map(\.state) == [.leased, .delivered])
        let kinds = try await store.events(after: 0).map(\.event).filter { $0.time == t1 }.map(\.kind)
        // The caller's events in their order, less the stale message's; its stale event last.
        #expect(kinds == [.send, .delivery, .staleOutcome])
    }

    @Test func aStaleReleaseDoesNothing() async throws {
        let temp = try TemporaryStore()
        let store = try temp.open()
        let (id, a, b) = try await leasedByAThenB(store)
        try await store.release([a.lease])
        #expect(try await store.messages(ids: [id]).first?.state == .leased)
        // B's lease is still B's: it can record, then nothing can release the message.
        #expect(try await store.lease(limit: 10, owner: "c/run-1", now: t0 + .seconds(62), leaseUntil: t0 + .seconds(122)).isEmpty)
        try await store.release([b.lease])
        #expect(try await store.messages(ids: [id]).first?.state == .queued)
    }

    @Test func theHeartbeatSaysWhichLeasesTheOwnerLost() async throws {
        let temp = try TemporaryStore()
        let store = try temp.open()
        let (id, a, b) = try await leasedByAThenB(store)
        let t1 = t0 + .seconds(70)
        let lostByA = try await store.heartbeat(NodeHeartbeat(owner: "a/run-1", node: nil, ips: [], holding: [a.lease]), now: t1, leaseUntil: t1 + .seconds(60))
        #expect(lostByA.lost == [a.lease])
        let keptByB = try await store.heartbeat(NodeHeartbeat(owner: "b/run-1", node: nil, ips: [], holding: [b.lease]), now: t1, leaseUntil: t1 + .seconds(60))
        #expect(keptByB.lost.isEmpty)
        // Once B recorded, B holds it no more either.
        try await store.record([delivered(b, owner: "b/run-1")], events: [], now: t1)
        #expect(try await store.heartbeat(NodeHeartbeat(owner: "b/run-1", node: nil, ips: [], holding: [b.lease]), now: t1, leaseUntil: t1 + .seconds(60)).lost
            == [MessageLease(id: id, epoch: b.epoch)])
    }

    @Test func anUnfencedOutcomeStillNeedsTheMessageLeased() async throws {
        let temp = try TemporaryStore()
        let store = try temp.open()
        let id = try await store.enqueue([submission(["x@gmail.com"])], now: t0)[0][0]
        // Not leased: an outcome without an epoch changes nothing, and suppresses nothing.
        try await store.record([Outcome(id: id, state: .bounced, reply: unknown, suppressRecipient: "x@gmail.com")], events: [], now: t0)
        #expect(try await store.messages(ids: [id]).first?.state == .queued)
        #expect(try await store.suppression(of: "x@gmail.com") == nil)
        #expect(try await store.events(ofMessage: id, limit: 100).map(\.kind) == [.accepted])
    }
}
