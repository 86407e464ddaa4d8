import KilnCore
import KilnStore

/// Fencing by lease epoch: a holder that stalled past its lease (SIGSTOP, a frozen VM, a
/// partition) cannot overwrite what the next holder recorded. Its late outcome changes
/// nothing about the message and is kept as a `staleOutcome` event naming it. Node a and
/// node b are two handles on the store.
extension StoreContract {
    static let fencing: [Check] = [
        Check("a stale outcome after the new holder's changes nothing and is kept as an event", aStaleOutcomeAfterTheNewHolders),
        Check("a stale outcome before the new holder's does not take its place", aStaleOutcomeBeforeTheNewHolders),
        Check("a stale outcome in a batch leaves the others and their events alone", aStaleOutcomeInABatch),
        Check("a stale release does nothing", aStaleReleaseDoesNothing),
        Check("the heartbeat says which leases the owner lost", theHeartbeatSaysWhichLeasesWereLost),
        Check("an unfenced outcome still needs the message leased", anUnfencedOutcomeNeedsALease),
    ]

    static let ownerA = "a/host-1-1"
    static let ownerB = "b/host-2-1"

    /// Node a leases the message (epoch e1) and stops renewing; node b's heartbeat takes
    /// it back once the lease has expired, and b leases it (epoch e2 > e1).
    static func leasedByAThenB(_ c: Context, _ a: any MessageStore, _ b: any MessageStore) async throws -> (id: MessageID, a: LeasedMessage, b: LeasedMessage) {
        let t0 = c.t0
        let id = try await a.enqueue([submission(["x@gmail.com"])], now: t0)[0][0]
        let first = try c.require(try await lease(a, owner: ownerA, now: t0, until: t0 + .seconds(10)).first, "a leases the message")
        c.expect(first.id == id, "a leased \(first.id), not \(id)")
        let t1 = t0 + .seconds(11)
        let taken = try await b.heartbeat(NodeHeartbeat(owner: ownerB, node: "b", ips: []), now: t1, leaseUntil: t1 + .seconds(10))
        c.expect(taken.recovered == 1, "b's heartbeat takes a's expired lease back: \(taken)")
        let second = try c.require(try await lease(b, owner: ownerB, now: t1, until: t1 + .seconds(10)).first, "b leases the message")
        c.expect(second.id == id && second.epoch > first.epoch, "b's lease has a higher epoch: \(first.epoch) then \(second.epoch)")
        return (id, first, second)
    }

    static func bounce(_ lease: LeasedMessage, owner: String) -> Outcome {
        Outcome(id: lease.id, state: .bounced, reply: unknown, via: .dedicated(ip: "127.0.0.2"), suppressRecipient: "x@gmail.com", epoch: lease.epoch, owner: owner)
    }

    static func delivered(_ lease: LeasedMessage, owner: String) -> Outcome {
        Outcome(id: lease.id, state: .delivered, reply: ok, via: .dedicated(ip: "127.0.0.3"), epoch: lease.epoch, owner: owner)
    }

    static func bounceEvent(_ id: MessageID, at time: Timestamp) -> DeliveryEvent {
        DeliveryEvent(kind: .bounce, time: time, messageID: id, recipient: "x@gmail.com", provider: .gmail, via: .dedicated(ip: "127.0.0.2"),
                      reply: unknown, replyClass: .permanentUser, attempt: 1)
    }

    static func deliveryEvent(_ id: MessageID, at time: Timestamp) -> DeliveryEvent {
        DeliveryEvent(kind: .delivery, time: time, messageID: id, recipient: "x@gmail.com", provider: .gmail, via: .dedicated(ip: "127.0.0.3"),
                      reply: ok, replyClass: .success, attempt: 1)
    }

    /// What a stale bounce must not have touched: one attempt (b's), delivered, no
    /// suppression, no bounce in the reputation counters (of the set and of the tenant).
    static func expectBsDeliveryStands(_ c: Context, _ store: any MessageStore, _ id: MessageID, now: Timestamp) async throws {
        let record = try c.require(try await store.messages(ids: [id]).first, "the message is stored")
        c.expect(record.state == .delivered && record.attempts == 1, "b's delivery stands, one attempt: \(record.state), \(record.attempts)")
        c.expect(record.lastReply == ok && record.via == .dedicated(ip: "127.0.0.3"), "b's reply and path: \(record)")
        let suppressed = try await store.suppression(of: "x@gmail.com")
        c.expect(suppressed == nil, "a stale bounce suppresses nothing: \(String(describing: suppressed))")
        let hours = try await store.reputationHours(now: now, hours: 2)
        for scope in ["bulk", PausedScope.tenant("default")] {
            c.expect(hours[scope]?.map(\.bounces).reduce(0, +) == 0, "no bounce counted for \(scope): \(hours)")
            c.expect(hours[scope]?.map(\.sent).reduce(0, +) == 1, "one send counted for \(scope): \(hours)")
        }
        let kinds = try await store.events(ofMessage: id, limit: 100).map(\.kind)
        c.expect(!kinds.contains(.bounce) && kinds.filter { $0 == .delivery }.count == 1, "the message's events: \(kinds)")
    }

    static func aStaleOutcomeAfterTheNewHolders(_ c: Context) async throws {
        let (nodeA, nodeB) = (try await c.open(), try await c.open())
        let (id, a, b) = try await leasedByAThenB(c, nodeA, nodeB)
        let t1 = c.t0 + .seconds(12)
        try await nodeB.record([delivered(b, owner: ownerB)], events: [deliveryEvent(id, at: t1)], now: t1)
        // a wakes up and records its bounce under e1.
        let t2 = c.t0 + .seconds(13)
        try await nodeA.record([bounce(a, owner: ownerA)], events: [bounceEvent(id, at: t2)], now: t2)
        try await expectBsDeliveryStands(c, nodeA, id, now: t2)
        let stale = try await nodeA.events(ofMessage: id, limit: 100).filter { $0.kind == .staleOutcome }
        c.expect(stale.count == 1, "one stale outcome event: \(stale.count)")
        let event = try c.require(stale.first, "the stale outcome event")
        let detail = event.detail ?? ""
        c.expect(detail.contains(ownerA) && detail.contains("lease epoch \(a.epoch)") && detail.contains("would have recorded bounced"),
                 "the event names a, its epoch and what it would have recorded: \(detail)")
        c.expect(detail.contains("the message is at lease epoch \(b.epoch), delivered"), "the event says where the message is: \(detail)")
        c.expect(event.reply == unknown && event.via == .dedicated(ip: "127.0.0.2"), "a's reply and path: \(event)")
        c.expect(event.recipient == "x@gmail.com" && event.provider == .gmail && event.time == t2, "the message's recipient, provider, and the time")
        // Destinations see it with the message's configuration set.
        let outbox = try await eventLog(nodeB, count: 3).filter { $0.event.kind == .staleOutcome }
        c.expect(outbox.map(\.configurationSet) == ["bulk"], "the log gives the stale event its set: \(outbox.map(\.configurationSet))")
    }

    static func aStaleOutcomeBeforeTheNewHolders(_ c: Context) async throws {
        let (nodeA, nodeB) = (try await c.open(), try await c.open())
        let (id, a, b) = try await leasedByAThenB(c, nodeA, nodeB)
        // a's bounce comes first, while b holds the lease: b's lease stands.
        let t1 = c.t0 + .seconds(12)
        try await nodeA.record([bounce(a, owner: ownerA)], events: [bounceEvent(id, at: t1)], now: t1)
        let held = try c.require(try await nodeB.messages(ids: [id]).first, "the message is stored")
        c.expect(held.state == .leased && held.attempts == 0, "still leased by b, no attempt: \(held.state), \(held.attempts)")
        let t2 = c.t0 + .seconds(13)
        try await nodeB.record([delivered(b, owner: ownerB)], events: [deliveryEvent(id, at: t2)], now: t2)
        try await expectBsDeliveryStands(c, nodeB, id, now: t2)
        let stale = try await nodeB.events(ofMessage: id, limit: 100).filter { $0.kind == .staleOutcome }
        c.expect(stale.count == 1, "one stale outcome event: \(stale.count)")
        let detail = stale.first?.detail ?? ""
        c.expect(detail.contains(ownerA) && detail.contains("the message is at lease epoch \(b.epoch), leased"), "the event's detail: \(detail)")
    }

    static func aStaleOutcomeInABatch(_ c: Context) async throws {
        let (nodeA, nodeB) = (try await c.open(), try await c.open())
        let (id, a, _) = try await leasedByAThenB(c, nodeA, nodeB)
        let other = try await nodeA.enqueue([submission(["y@gmail.com"])], now: c.t0)[0][0]
        let t1 = c.t0 + .seconds(12)
        let mine = try c.require(try await lease(nodeA, owner: ownerA, now: t1, until: t1 + .seconds(10)).first, "a leases the other message")
        c.expect(mine.id == other, "a leased \(mine.id), not \(other)")
        let sendEvent = DeliveryEvent(kind: .send, time: t1, messageID: other, recipient: "y@gmail.com", provider: .gmail)
        try await nodeA.record([bounce(a, owner: ownerA), delivered(mine, owner: ownerA)],
                               events: [bounceEvent(id, at: t1), sendEvent, deliveryEvent(other, at: t1)], now: t1)
        let states = try await nodeA.messages(ids: [id, other]).map(\.state)
        c.expect(states == [.leased, .delivered], "the stale one stays b's, the other is delivered: \(states)")
        let kinds = try await nodeA.events(after: 0, limit: 100).map(\.event).filter { $0.time == t1 }.map(\.kind)
        // The caller's events in their order, less the stale message's; its stale event last.
        c.expect(kinds == [.send, .delivery, .staleOutcome], "the batch's events: \(kinds)")
    }

    static func aStaleReleaseDoesNothing(_ c: Context) async throws {
        let (nodeA, nodeB) = (try await c.open(), try await c.open())
        let (id, a, b) = try await leasedByAThenB(c, nodeA, nodeB)
        try await nodeA.release([a.lease])
        let state = try await nodeB.messages(ids: [id]).first?.state
        c.expect(state == .leased, "a's stale release leaves b's lease: \(String(describing: state))")
        let t1 = c.t0 + .seconds(12)
        let none = try await lease(nodeA, owner: ownerA, now: t1, until: t1 + .seconds(10))
        c.expect(none.isEmpty, "nothing to lease while b holds it: \(none)")
        try await nodeB.release([b.lease])
        let released = try await nodeB.messages(ids: [id]).first?.state
        c.expect(released == .queued, "b's release puts it back: \(String(describing: released))")
    }

    static func theHeartbeatSaysWhichLeasesWereLost(_ c: Context) async throws {
        let (nodeA, nodeB) = (try await c.open(), try await c.open())
        let (id, a, b) = try await leasedByAThenB(c, nodeA, nodeB)
        let t1 = c.t0 + .seconds(12)
        let lostByA = try await nodeA.heartbeat(NodeHeartbeat(owner: ownerA, node: "a", ips: [], holding: [a.lease]), now: t1, leaseUntil: t1 + .seconds(10))
        c.expect(lostByA.lost == [a.lease] && lostByA.recovered == 0, "a lost its lease, nothing to take back: \(lostByA)")
        let keptByB = try await nodeB.heartbeat(NodeHeartbeat(owner: ownerB, node: "b", ips: [], holding: [b.lease]), now: t1, leaseUntil: t1 + .seconds(10))
        c.expect(keptByB.lost.isEmpty, "b still holds its lease: \(keptByB)")
        // Once b recorded, b holds it no more either.
        try await nodeB.record([delivered(b, owner: ownerB)], events: [], now: t1)
        let afterRecord = try await nodeB.heartbeat(NodeHeartbeat(owner: ownerB, node: "b", ips: [], holding: [b.lease]), now: t1, leaseUntil: t1 + .seconds(10))
        c.expect(afterRecord.lost == [MessageLease(id: id, epoch: b.epoch)], "a recorded lease is no longer held: \(afterRecord)")
    }

    static func anUnfencedOutcomeNeedsALease(_ c: Context) async throws {
        let store = try await c.open()
        let id = try await store.enqueue([submission(["x@gmail.com"])], now: c.t0)[0][0]
        // Not leased: an outcome without an epoch changes nothing, and suppresses nothing.
        try await store.record([Outcome(id: id, state: .bounced, reply: unknown, suppressRecipient: "x@gmail.com")], events: [], now: c.t0)
        let state = try await store.messages(ids: [id]).first?.state
        c.expect(state == .queued, "still queued: \(String(describing: state))")
        let suppressed = try await store.suppression(of: "x@gmail.com")
        c.expect(suppressed == nil, "nothing suppressed: \(String(describing: suppressed))")
        let kinds = try await store.events(ofMessage: id, limit: 100).map(\.kind)
        c.expect(kinds == [.accepted], "only the accepted event: \(kinds)")
    }
}
