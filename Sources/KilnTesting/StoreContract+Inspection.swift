import KilnCore
import KilnStore

/// The reads behind `kiln events` and `kiln queue`, and `kiln queue retry`'s update.
extension StoreContract {
    static let inspection: [Check] = [
        Check("recent events are the newest matches, oldest first", recentEventsAreTheNewestMatches),
        Check("the queue summary counts unfinished messages by provider, state and source IP", queueSummaryCountsUnfinishedMessages),
        Check("retry now makes deferred mail due and leaves leased and final mail alone", retryNowMakesDeferredMailDue),
    ]

    static func recentEventsAreTheNewestMatches(_ c: Context) async throws {
        let store = try await c.open()
        let t0 = c.t0
        let metadata = Array(#"{"order":"42"}"#.utf8)
        var spring = submission(["a@gmail.com", "b@gmail.com"], set: "c", tenant: "acme", campaign: "spring")
        spring.recipients[0].metadata = metadata
        let ids = try await store.enqueue([spring, submission(["c@yahoo.com"], set: "c")], now: t0)
        let (a, b, cc) = (ids[0][0], ids[0][1], ids[1][0])
        _ = try await lease(store, now: t0)
        let gone = SMTPReply(code: 550, enhancedStatus: "5.1.1", text: "no such user")
        try await store.record([
            Outcome(id: a, state: .delivered, reply: ok, via: .dedicated(ip: "192.0.2.1")),
            Outcome(id: b, state: .deferred, nextAttemptAt: t0 + .seconds(600), reply: later, via: .dedicated(ip: "192.0.2.1")),
            Outcome(id: cc, state: .bounced, reply: gone, via: .dedicated(ip: "192.0.2.2")),
        ], events: [
            DeliveryEvent(kind: .delivery, time: t0 + .seconds(10), messageID: a, recipient: "a@gmail.com", provider: .gmail, reply: ok),
            DeliveryEvent(kind: .deliveryDelay, time: t0 + .seconds(20), messageID: b, recipient: "b@gmail.com", provider: .gmail, reply: later),
            DeliveryEvent(kind: .bounce, time: t0 + .seconds(30), messageID: cc, recipient: "c@yahoo.com", provider: .yahoo, reply: gone),
        ], now: t0 + .seconds(30))
        try await store.append(events: [DeliveryEvent(kind: .paused, time: t0 + .seconds(40), detail: "*")])

        func kinds(_ query: EventQuery, limit: Int = 100) async throws -> [DeliveryEvent.Kind] {
            try await store.recentEvents(matching: query, limit: limit).map(\.event.kind)
        }
        let all = try await kinds(EventQuery())
        c.expect(all == [.accepted, .accepted, .accepted, .delivery, .deliveryDelay, .bounce, .paused], "every event: \(all)")
        let newest = try await kinds(EventQuery(), limit: 2)
        c.expect(newest == [.bounce, .paused], "the newest two, oldest first: \(newest)")
        let ofA = try await store.recentEvents(matching: EventQuery(recipient: "a@gmail.com"), limit: 10)
        c.expect(ofA.map(\.event.kind) == [.accepted, .delivery], "a's events: \(ofA.map(\.event.kind))")
        c.expect(ofA.allSatisfy { $0.campaign == "spring" && $0.configurationSet == "c" && $0.tenant == "acme" && $0.metadata == metadata },
                 "a's events carry its campaign, set, tenant and metadata: \(ofA)")
        let spring1 = try await kinds(EventQuery(campaign: "spring"))
        c.expect(spring1 == [.accepted, .accepted, .delivery, .deliveryDelay], "the campaign's events: \(spring1)")
        let autumn = try await kinds(EventQuery(campaign: "autumn"))
        c.expect(autumn == [], "no such campaign: \(autumn)")
        let ofKinds = try await kinds(EventQuery(kinds: [.bounce, .paused]))
        c.expect(ofKinds == [.bounce, .paused], "by kind: \(ofKinds)")
        let since = try await kinds(EventQuery(since: t0 + .seconds(25)))
        c.expect(since == [.bounce, .paused], "since a time: \(since)")
        let delayed = try await store.recentEvents(matching: EventQuery(campaign: "spring", kinds: [.deliveryDelay]), limit: 10)
        c.expect(delayed.map(\.event.messageID) == [b] && delayed.first?.event.reply == later, "the campaign's delays: \(delayed)")
        let both = try await kinds(EventQuery(recipient: "c@yahoo.com", campaign: "spring"))
        c.expect(both == [], "every condition must hold: \(both)")
        let none = try await store.recentEvents(matching: EventQuery(), limit: 0)
        c.expect(none.isEmpty, "a limit of 0: \(none)")
    }

    static func queueSummaryCountsUnfinishedMessages(_ c: Context) async throws {
        let store = try await c.open()
        let t0 = c.t0
        let ids = try await store.enqueue([submission(["g1@gmail.com", "g2@gmail.com", "g3@gmail.com", "g4@gmail.com"]), submission(["y1@yahoo.com"])], now: t0)
        let (g, y) = (ids[0], ids[1][0])
        let leased = try await lease(store, now: t0)
        c.expect(leased.count == 5, "all five leased: \(leased.count)")
        try await store.record([
            Outcome(id: g[0], state: .deferred, nextAttemptAt: t0 + .seconds(300), reply: later, via: .dedicated(ip: "192.0.2.1")),
            Outcome(id: g[1], state: .deferred, nextAttemptAt: t0 + .seconds(600), reply: later, via: .dedicated(ip: "192.0.2.2")),
            Outcome(id: g[2], state: .delivered, reply: ok, via: .dedicated(ip: "192.0.2.1")),
        ], events: [], now: t0)
        try await store.release(leased.filter { $0.id == y }.map(\.lease))
        let summary = try await store.queueSummary()
        c.expect(Set(summary) == [
            QueueCount(provider: .gmail, state: .leased, count: 1),
            QueueCount(provider: .gmail, state: .deferred, sourceIP: "192.0.2.1", count: 1, nextDue: t0 + .seconds(300)),
            QueueCount(provider: .gmail, state: .deferred, sourceIP: "192.0.2.2", count: 1, nextDue: t0 + .seconds(600)),
            QueueCount(provider: .yahoo, state: .queued, count: 1, nextDue: t0),
        ] && summary.count == 4, "the summary: \(summary)")
        c.expect(summary.map { "\($0.provider.id)/\($0.state.rawValue)/\($0.sourceIP ?? "")" }
                    == summary.map { "\($0.provider.id)/\($0.state.rawValue)/\($0.sourceIP ?? "")" }.sorted(), "sorted by provider, state, IP: \(summary)")
    }

    static func retryNowMakesDeferredMailDue(_ c: Context) async throws {
        let store = try await c.open()
        let t0 = c.t0
        let ids = try await store.enqueue([submission(["a@gmail.com", "b@gmail.com", "c@gmail.com", "d@gmail.com"]), submission(["e@yahoo.com"])], now: t0)
        let (a, b, cc, d, e) = (ids[0][0], ids[0][1], ids[0][2], ids[0][3], ids[1][0])
        _ = try await lease(store, now: t0)
        try await store.record([
            Outcome(id: a, state: .deferred, nextAttemptAt: t0 + .seconds(600), reply: later),
            Outcome(id: b, state: .deferred, nextAttemptAt: t0 + .seconds(600), reply: later),
            Outcome(id: cc, state: .bounced, nextAttemptAt: t0 + .seconds(600), reply: SMTPReply(code: 550, text: "no")),
            Outcome(id: e, state: .deferred, nextAttemptAt: t0 + .seconds(900), reply: later),
        ], events: [], now: t0)
        let now = t0 + .seconds(10)
        let one = try await store.retryNow(provider: .gmail, recipient: "b@gmail.com", now: now)
        let times = try await store.messages(ids: [a, b]).map(\.nextAttemptAt)
        c.expect(one == 1 && times == [t0 + .seconds(600), now], "one recipient of one provider: \(one), \(times)")
        let gmail = try await store.retryNow(provider: .gmail, recipient: nil, now: now)
        let rest = try await store.retryNow(provider: nil, recipient: nil, now: now)
        let nothing = try await store.retryNow(provider: nil, recipient: nil, now: now)
        c.expect((gmail, rest, nothing) == (1, 1, 0), "the provider's, then the rest, then none: \(gmail), \(rest), \(nothing)")
        let records = try await store.messages(ids: [a, b, cc, d, e])
        c.expect(records.map(\.state) == [.deferred, .deferred, .bounced, .leased, .deferred], "states: \(records.map(\.state))")
        c.expect(records.map(\.nextAttemptAt) == [now, now, t0 + .seconds(600), t0, now], "next attempts: \(records.map(\.nextAttemptAt))")
        // What retry made due is leased at once; the leased one is not leased twice.
        let leased = try await lease(store, now: now)
        c.expect(Set(leased.map(\.id)) == [a, b, e], "leased: \(leased.map(\.id))")
    }
}
