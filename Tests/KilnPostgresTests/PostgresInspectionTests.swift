import Foundation
import KilnCore
import KilnPostgres
import KilnStore
import Testing

/// The reads behind `kiln events` and `kiln queue`, and `kiln queue retry`'s update, on
/// PostgreSQL: the cases of `InspectionTests` (SQLite).
@Suite(.enabled(if: PostgresTestServer.enabled, "set KILN_TEST_POSTGRES_URL (make test does)"))
struct PostgresInspectionTests {
    let t0 = Timestamp(nanoseconds: 1_800_000_000_000_000_000)
    let later = SMTPReply(code: 451, enhancedStatus: "4.3.0", text: "try later")

    func submission(_ recipients: [String], provider: MailboxProvider = .gmail, campaign: String? = nil, metadata: [UInt8]? = nil) -> Submission {
        Submission(
            content: StoredContent(data: Array("Subject: x\r\n\r\nbody\r\n".utf8), envelopeDomain: "bounce.example.com", configurationSet: "c",
                                   campaign: campaign, tenant: campaign == nil ? "default" : "acme"),
            recipients: recipients.map { Submission.Recipient(address: $0, provider: provider, metadata: metadata) })
    }

    func lease(_ store: PostgresStore, now: Timestamp) async throws -> [LeasedMessage] {
        try await store.lease(limit: 10, owner: "n/1", now: now, leaseUntil: now + .seconds(60), excluding: [], pausedSets: [])
    }

    @Test func recentEventsAreTheNewestMatchesOldestFirst() async throws {
        let db = try await PostgresTestServer.freshDatabase()
        let store = db.store()
        let metadata = Array(#"{"order":"42"}"#.utf8)
        var spring = submission(["a@gmail.com", "b@gmail.com"], campaign: "spring")
        spring.recipients[0].metadata = metadata
        let ids = try await store.enqueue([spring, submission(["c@yahoo.com"], provider: .yahoo)], now: t0)
        let (a, b, c) = (ids[0][0], ids[0][1], ids[1][0])
        _ = try await lease(store, now: t0)
        let ok = SMTPReply(code: 250, enhancedStatus: "2.0.0", text: "ok")
        let gone = SMTPReply(code: 550, enhancedStatus: "5.1.1", text: "no such user")
        try await store.record([
            Outcome(id: a, state: .delivered, reply: ok, via: .dedicated(ip: "192.0.2.1")),
            Outcome(id: b, state: .deferred, nextAttemptAt: t0 + .seconds(600), reply: later, via: .dedicated(ip: "192.0.2.1")),
            Outcome(id: c, state: .bounced, reply: gone, via: .dedicated(ip: "192.0.2.2")),
        ], events: [
            DeliveryEvent(kind: .delivery, time: t0 + .seconds(10), messageID: a, recipient: "a@gmail.com", provider: .gmail, reply: ok),
            DeliveryEvent(kind: .deliveryDelay, time: t0 + .seconds(20), messageID: b, recipient: "b@gmail.com", provider: .gmail, reply: later),
            DeliveryEvent(kind: .bounce, time: t0 + .seconds(30), messageID: c, recipient: "c@yahoo.com", provider: .yahoo, reply: gone),
        ], now: t0 + .seconds(30))
        try await store.append(events: [DeliveryEvent(kind: .paused, time: t0 + .seconds(40), detail: "*")])

        func kinds(_ query: EventQuery, limit: Int = 100) async throws -> [DeliveryEvent.Kind] {
            try await store.recentEvents(matching: query, limit: limit).map(\.event.kind)
        }
        #expect(try await kinds(EventQuery()) == [.accepted, .accepted, .accepted, .delivery, .deliveryDelay, .bounce, .paused])
        #expect(try await kinds(EventQuery(), limit: 2) == [.bounce, .paused])
        let ofA = try await store.recentEvents(matching: EventQuery(recipient: "a@gmail.com"), limit: 10)
        #expect(ofA.map(\.event.kind) == [.accepted, .delivery])
        #expect(ofA.allSatisfy { $0.campaign == "spring" && $0.configurationSet == "c" && $0.tenant == "acme" && $0.metadata == metadata })
        #expect(try await kinds(EventQuery(campaign: "spring")) == [.accepted, .accepted, .delivery, .deliveryDelay])
        #expect(try await kinds(EventQuery(campaign: "autumn")) == [])
        #expect(try await kinds(EventQuery(kinds: [.bounce, .paused])) == [.bounce, .paused])
        #expect(try await kinds(EventQuery(since: t0 + .seconds(25))) == [.bounce, .paused])
        let delayed = try await store.recentEvents(matching: EventQuery(campaign: "spring", kinds: [.deliveryDelay]), limit: 10)
        #expect(delayed.map(\.event.messageID) == [b])
        #expect(delayed.first?.event.reply == later)
        #expect(try await kinds(EventQuery(recipient: "c@yahoo.com", campaign: "spring")) == [])
        #expect(try await store.recentEvents(matching: EventQuery(), limit: 0).isEmpty)
        await db.drop()
    }

    @Test func queueSummaryCountsUnfinishedMessagesByProviderStateAndSourceIP() async throws {
        let db = try await PostgresTestServer.freshDatabase()
        let store = db.store()
        let ids = try await store.enqueue([submission(["g1@gmail.com", "g2@gmail.com", "g3@gmail.com", "g4@gmail.com"]),
                                           submission(["y1@yahoo.com"], provider: .yahoo)], now: t0)
        let (g, y) = (ids[0], ids[1][0])
        let leased = try await lease(store, now: t0)
        #expect(leased.count == 5)
        try await store.record([
            Outcome(id: g[0], state: .deferred, nextAttemptAt: t0 + .seconds(300), reply: later, via: .dedicated(ip: "192.0.2.1")),
            Outcome(id: g[1], state: .deferred, nextAttemptAt: t0 + .seconds(600), reply: later, via: .dedicated(ip: "192.0.2.2")),
            Outcome(id: g[2], state: .delivered, reply: SMTPReply(code: 250, text: "ok"), via: .dedicated(ip: "192.0.2.1")),
        ], events: [], now: t0)
        try await store.release(leased.filter { $0.id == y }.map(\.lease))
        let summary = try await store.queueSummary()
        #expect(Set(summary) == [
            QueueCount(provider: .gmail, state: .leased, count: 1),
            QueueCount(provider: .gmail, state: .deferred, sourceIP: "192.0.2.1", count: 1, nextDue: t0 + .seconds(300)),
            QueueCount(provider: .gmail, state: .deferred, sourceIP: "192.0.2.2", count: 1, nextDue: t0 + .seconds(600)),
            QueueCount(provider: .yahoo, state: .queued, count: 1, nextDue: t0),
        ])
        #expect(summary.count == 4)
        await db.drop()
    }

    @Test func retryNowMakesDeferredMailDueAndLeavesLeasedAndFinalMailAlone() async throws {
        let db = try await PostgresTestServer.freshDatabase()
        let store = db.store()
        let ids = try await store.enqueue([submission(["a@gmail.com", "b@gmail.com", "c@gmail.com", "d@gmail.com"]),
                                           submission(["e@yahoo.com"], provider: .yahoo)], now: t0)
        let (a, b, c, d, e) = (ids[0][0], ids[0][1], ids[0][2], ids[0][3], ids[1][0])
        _ = try await lease(store, now: t0)
        try await store.record([
            Outcome(id: a, state: .deferred, nextAttemptAt: t0 + .seconds(600), reply: later),
            Outcome(id: b, state: .deferred, nextAttemptAt: t0 + .seconds(600), reply: later),
            Outcome(id: c, state: .bounced, nextAttemptAt: t0 + .seconds(600), reply: SMTPReply(code: 550, text: "no")),
            Outcome(id: e, state: .deferred, nextAttemptAt: t0 + .seconds(900), reply: later),
        ], events: [], now: t0)
        let now = t0 + .seconds(10)
        #expect(try await store.retryNow(provider: .gmail, recipient: "b@gmail.com", now: now) == 1)
        #expect(try await store.messages(ids: [a, b]).map(\.nextAttemptAt) == [t0 + .seconds(600), now])
        #expect(try await store.retryNow(provider: .gmail, recipient: nil, now: now) == 1)
        #expect(try await store.retryNow(provider: nil, recipient: nil, now: now) == 1)
        #expect(try await store.retryNow(provider: nil, recipient: nil, now: now) == 0)
        let records = try await store.messages(ids: [a, b, c, d, e])
        #expect(records.map(\.state) == [.deferred, .deferred, .bounced, .leased, .deferred])
        #expect(records.map(\.nextAttemptAt) == [now, now, t0 + .seconds(600), t0, now])
        let leased = try await lease(store, now: now)
        #expect(Set(leased.map(\.id)) == [a, b, e])
        await db.drop()
    }
}
