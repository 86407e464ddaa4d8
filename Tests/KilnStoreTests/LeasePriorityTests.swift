import KilnCore
import KilnStore
import Testing

/// Transactional mail (priority 1) is leased before the bulk backlog, whatever its age.
@Suite struct LeasePriorityTests {
    let t0 = Timestamp(nanoseconds: 1_700_000_000_000_000_000)

    @Test func aLaterTransactionalMessageIsLeasedBeforeOlderBulk() async throws {
        let temp = try TemporaryStore()
        let store = try temp.open()
        let bulk = try await store.enqueue([submission((0..<500).map { "b\($0)@gmail.com" })], now: t0)[0]
        var urgent = submission(["reset@gmail.com", "reset2@gmail.com"], configurationSet: "tx")
        urgent.priority = 1
        let tx = try await store.enqueue([urgent], now: t0 + .seconds(60))[0]
        let first = try await store.lease(limit: 3, now: t0 + .seconds(61), leaseUntil: t0 + .seconds(120))
        #expect(first.map(\.id) == tx + [bulk[0]])
        #expect(first.map(\.priority) == [1, 1, 0])
        // The bulk rest keeps its oldest-first order.
        let rest = try await store.lease(limit: 1000, now: t0 + .seconds(61), leaseUntil: t0 + .seconds(120))
        #expect(rest.map(\.id) == Array(bulk.dropFirst()))
    }

    @Test func priorityRespectsDueTimesPausesAndExcludedProviders() async throws {
        let temp = try TemporaryStore()
        let store = try temp.open()
        _ = try await store.enqueue([submission(["b@yahoo.com"], provider: .yahoo)], now: t0)
        var toYahoo = submission(["tx@yahoo.com"], provider: .yahoo, configurationSet: "tx")
        toYahoo.priority = 1
        var paused = submission(["p@gmail.com"], configurationSet: "paused-tx")
        paused.priority = 1
        let ids = try await store.enqueue([toYahoo, paused], now: t0)
        // Yahoo cannot send now and the set is paused: nothing of either is leased.
        let none = try await store.lease(limit: 10, now: t0, leaseUntil: t0 + .seconds(60), excluding: [.yahoo], pausedSets: ["paused-tx"])
        #expect(none.isEmpty)
        // A deferred transactional message waits for its next attempt like any other.
        let leased = try await store.lease(limit: 1, now: t0, leaseUntil: t0 + .seconds(60))
        #expect(leased.map(\.id) == [ids[0][0]])
        try await store.record([Outcome(id: ids[0][0], state: .deferred, nextAttemptAt: t0 + .seconds(300))], events: [], now: t0)
        let next = try await store.lease(limit: 1, now: t0 + .seconds(1), leaseUntil: t0 + .seconds(60))
        #expect(next.map(\.id) == [ids[1][0]])
        let bulk = try await store.lease(limit: 5, now: t0 + .seconds(1), leaseUntil: t0 + .seconds(60))
        #expect(bulk.map(\.priority) == [0])
        let later = try await store.lease(limit: 5, now: t0 + .seconds(300), leaseUntil: t0 + .seconds(400))
        #expect(later.map(\.id) == [ids[0][0]])
    }
}
