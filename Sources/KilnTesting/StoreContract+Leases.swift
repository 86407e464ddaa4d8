import KilnCore
import KilnStore

/// Leases: concurrent lessees, renewal and takeover, a delivering run's start.
extension StoreContract {
    static let leases: [Check] = [
        Check("concurrent lessees never take the same message", concurrentLesseesNeverTakeTheSameMessage),
        Check("an expired lease is taken back by a heartbeat, a renewed one is not", anExpiredLeaseIsTakenBackARenewedOneIsNot),
        Check("a node's new run takes back the leases of its earlier run", aNewRunTakesBackItsEarlierLeases),
        Check("a released lease puts its message back without an attempt", aReleaseCountsNoAttempt),
    ]

    static func concurrentLesseesNeverTakeTheSameMessage(_ c: Context) async throws {
        let store = try await c.open()
        let t0 = c.t0
        let recipients = (0..<2_000).map { "u\($0)@gmail.com" }
        _ = try await store.enqueue(stride(from: 0, to: recipients.count, by: 500).map { submission(Array(recipients[$0..<$0 + 500])) }, now: t0)
        let taken = try await withThrowingTaskGroup(of: [MessageID].self) { group in
            for lessee in 0..<8 {
                group.addTask {
                    var mine: [MessageID] = []
                    while true {
                        let batch = try await lease(store, owner: "n\(lessee)/x", limit: 37, now: t0 + .seconds(1))
                        if batch.isEmpty { return mine }
                        mine += batch.map(\.id)
                        await Task.yield()
                    }
                }
            }
            var all: [[MessageID]] = []
            for try await ids in group { all.append(ids) }
            return all
        }
        let flat = taken.flatMap { $0 }
        c.expect(flat.count == 2_000, "every message leased: \(flat.count)")
        c.expect(Set(flat).count == 2_000, "no message leased twice: \(Set(flat).count) distinct")
        c.expect(taken.filter { !$0.isEmpty }.count > 1, "the lessees shared the work: \(taken.map(\.count))")
    }

    static func anExpiredLeaseIsTakenBackARenewedOneIsNot(_ c: Context) async throws {
        let nodeA = try await c.open()
        let nodeB = try await c.open()
        let t0 = c.t0
        _ = try await nodeA.enqueue([submission(["a@gmail.com", "b@gmail.com"])], now: t0)
        let a = NodeHeartbeat(owner: "a/run1", node: "a", ips: ["127.0.0.2"])
        let b = NodeHeartbeat(owner: "b/run1", node: "b", ips: ["127.0.0.4"])
        let leased = try await lease(nodeA, owner: a.owner, limit: 1, now: t0, until: t0 + .seconds(10))
        c.expect(leased.count == 1, "a leases one: \(leased.count)")
        // a renews at t0+8 until t0+18; b's heartbeat at t0+15 takes nothing back.
        let renewed = try await nodeA.heartbeat(a, now: t0 + .seconds(8), leaseUntil: t0 + .seconds(18))
        c.expect(renewed.recovered == 0 && renewed.lost.isEmpty, "a's renewal: \(renewed)")
        let early = try await nodeB.heartbeat(b, now: t0 + .seconds(15), leaseUntil: t0 + .seconds(25))
        c.expect(early.recovered == 0, "a renewed lease is not taken back: \(early)")
        let stillHeld = try await lease(nodeB, owner: b.owner, limit: 5, now: t0 + .seconds(15), until: t0 + .seconds(25))
        c.expect(stillHeld.map(\.recipient) == ["b@gmail.com"], "b leases only the other one: \(stillHeld.map(\.recipient))")
        try await nodeB.release(stillHeld.map(\.lease))
        // a stops renewing: at t0+19 its lease has expired and b's heartbeat takes it back.
        let late = try await nodeB.heartbeat(b, now: t0 + .seconds(19), leaseUntil: t0 + .seconds(29))
        c.expect(late.recovered == 1, "the expired lease is taken back: \(late)")
        let again = try await lease(nodeB, owner: b.owner, limit: 5, now: t0 + .seconds(19), until: t0 + .seconds(29))
        c.expect(Set(again.map(\.recipient)) == ["a@gmail.com", "b@gmail.com"], "b leases both: \(again.map(\.recipient))")
        let firstEpoch = leased.first?.epoch ?? .max
        c.expect(again.first { $0.recipient == "a@gmail.com" }.map { $0.epoch > firstEpoch } == true, "a new lease, a new epoch")
        c.expect(again.allSatisfy { $0.attempts == 0 }, "taking a lease back counts no attempt")
    }

    static func aNewRunTakesBackItsEarlierLeases(_ c: Context) async throws {
        let store = try await c.open()
        let t0 = c.t0
        let ids = try await store.enqueue([submission(["a@gmail.com", "b@gmail.com", "c@gmail.com"])], now: t0)[0]
        let earlier = try await lease(store, owner: "a/old-run", limit: 2, now: t0, until: t0 + .seconds(3600))
        c.expect(earlier.map(\.id) == Array(ids.prefix(2)), "the earlier run leased two: \(earlier.map(\.id))")
        let claim = try await store.beginDelivery(node: "a", now: t0 + .seconds(1))
        c.expect(claim.recovered >= 2, "the new run takes back its earlier run's two: \(claim.recovered)")
        let states = try await store.messages(ids: Array(ids.prefix(2))).map(\.state)
        c.expect(states == [.queued, .queued], "back in the queue: \(states)")
        let again = try await lease(store, owner: "a/new-run", now: t0 + .seconds(2))
        c.expect(Set(again.map(\.id)) == Set(ids), "the new run leases them: \(again.map(\.id))")
        c.expect(again.filter { earlier.map(\.id).contains($0.id) }.allSatisfy { $0.attempts == 0 }, "no attempt counted")
        withExtendedLifetime(claim) {}
    }

    static func aReleaseCountsNoAttempt(_ c: Context) async throws {
        let store = try await c.open()
        let t0 = c.t0
        let ids = try await store.enqueue([submission(["a@gmail.com", "b@gmail.com"])], now: t0)[0]
        let leased = try await lease(store, now: t0)
        try await store.release(leased.filter { $0.id == ids[0] }.map(\.lease))
        let states = try await store.messages(ids: ids).map(\.state)
        c.expect(states == [.queued, .leased], "only the released one is queued: \(states)")
        let again = try await lease(store, now: t0 + .seconds(1))
        c.expect(again.map(\.id) == [ids[0]] && again.first?.attempts == 0, "leased again with no attempt: \(again)")
        // An empty release is nothing.
        try await store.release([])
    }
}
