import Foundation
import KilnCore
import KilnPostgres
import KilnStore
import PostgresNIO
import Testing

/// The event log, destination cursors and the retention purge on PostgreSQL: the same
/// behaviour as SQLite, and the commit order that only a shared store needs.
@Suite(.serialized, .enabled(if: PostgresTestServer.enabled, "set KILN_TEST_POSTGRES_URL (make test does)"))
struct PostgresOutboxTests {
    /// The log after `position` once it holds `count` events: a transaction still open
    /// anywhere on the server (another test's) holds back what can be read, for a moment
    /// (up to 30 s of wall time: the whole suite beside it can hold a transaction that long).
    func read(_ store: PostgresStore, after position: EventPosition, count: Int) async throws -> [StoredEvent] {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            let events = try await store.outboxEvents(after: position, limit: 100)
            if events.count >= count { return events }
            try await Task.sleep(for: .milliseconds(50))
        }
        return try await store.outboxEvents(after: position, limit: 100)
    }

    let t0 = Timestamp(nanoseconds: 1_800_000_000_000_000_000)
    let day = Duration.seconds(86_400)

    func submission(_ recipients: [String], campaign: String? = nil) -> Submission {
        Submission(content: StoredContent(data: Array("Subject: hi\r\n\r\nbody\r\n".utf8), envelopeDomain: "bounce.example.com", configurationSet: "news",
                                          campaign: campaign, fromDomain: "example.com"),
                   recipients: recipients.map { Submission.Recipient(address: $0, provider: .gmail) })
    }

    @Test func destinationsReadTheLogInOrderWithCursorsThatSurvive() async throws {
        let db = try await PostgresTestServer.freshDatabase()
        let store = db.store()
        let ids = try await store.enqueue([submission(["a@gmail.com", "b@gmail.com"], campaign: "spring")], now: t0)[0]
        _ = try await store.lease(limit: 10, owner: "n/1", now: t0, leaseUntil: t0 + .seconds(60), excluding: [], pausedSets: [])
        let ok = SMTPReply(code: 250, enhancedStatus: "2.0.0", text: "ok")
        try await store.record([Outcome(id: ids[0], state: .delivered, reply: ok, via: .dedicated(ip: "127.0.0.2"))], events: [
            DeliveryEvent(kind: .delivery, time: t0, messageID: ids[0], recipient: "a@gmail.com", provider: .gmail, via: .dedicated(ip: "127.0.0.2"),
                          reply: ok, replyClass: .success, reason: .accepted, attempt: 1),
        ], now: t0)
        try await store.append(events: [DeliveryEvent(kind: .paused, time: t0, detail: "*")])
        let all = try await read(store, after: .start, count: 4)
        #expect(all.map(\.event.kind) == [.accepted, .accepted, .delivery, .paused])
        #expect(all.map(\.position) == all.map(\.position).sorted())
        #expect(all[2].configurationSet == "news" && all[2].campaign == "spring" && all[2].contentID != nil)
        #expect(all[2].event.replyClass == .success && all[2].event.reason == .accepted && all[2].event.attempt == 1)
        #expect(all[3].configurationSet == nil)
        #expect(try await store.outboxEvents(after: all[1].position, limit: 100).map(\.id) == all.suffix(2).map(\.id))
        #expect(try await store.outboxCount(after: all[1].position, cap: 100) == 2)
        // A destination counts only what it takes: its kinds, of its set, and engine events.
        #expect(try await store.outboxCount(after: .start, cap: 100, taking: OutboxFilter(kinds: ["delivery", "bounce"], configurationSet: "news")) == 1)
        #expect(try await store.outboxCount(after: .start, cap: 100, taking: OutboxFilter(kinds: ["delivery", "paused"], configurationSet: "other")) == 1)
        #expect(try await store.outboxCount(after: .start, cap: 100, taking: OutboxFilter(kinds: ["accepted", "delivery", "paused"], configurationSet: "news")) == 4)
        #expect(try await store.outboxTime(after: all[3].position) == nil)
        try await store.saveDestinationCursor(DestinationCursor(name: "news/hooks", position: all[2].position, lastError: "webhook: HTTP 503", lastErrorAt: t0))
        let other = db.store()
        let cursor = try #require(try await other.destinationCursors()["news/hooks"])
        #expect(cursor.position == all[2].position && cursor.lastError == "webhook: HTTP 503" && cursor.lastErrorAt == t0)
        try await other.saveDestinationCursor(DestinationCursor(name: "news/hooks", position: all[3].position))
        #expect(try await store.destinationCursors()["news/hooks"]?.lastError == nil)
        await db.drop()
    }

    /// An event whose id was taken by a transaction that commits late is not skipped: the
    /// later, committed event waits until the earlier transaction ends.
    @Test func anEventCommittedLateIsNeverSkipped() async throws {
        let db = try await PostgresTestServer.freshDatabase()
        let store = db.store()
        try await store.append(events: [DeliveryEvent(kind: .paused, time: t0, detail: "*")])
        let start = try #require(try await read(store, after: .start, count: 1).last).position
        try await PostgresTestServer.admin(db.settings) { slow in
            try await slow.query("BEGIN", logger: PostgresTestServer.logger)
            try await slow.query("INSERT INTO events (time, kind, detail) VALUES (1, 'resumed', 'late')", logger: PostgresTestServer.logger)
            try await store.append(events: [DeliveryEvent(kind: .paused, time: t0, detail: "early")])
            // The committed event has the larger id; it is not read before the open one ends.
            #expect(try await store.outboxEvents(after: start, limit: 10).isEmpty)
            try await slow.query("COMMIT", logger: PostgresTestServer.logger)
        }
        let after = try await read(store, after: start, count: 2)
        #expect(after.map(\.event.detail) == ["late", "early"])
        await db.drop()
    }

    @Test func purgeRemovesOldFinalMessagesTheirContentsAndEventsAndKeepsTheRest() async throws {
        let db = try await PostgresTestServer.freshDatabase()
        let store = db.store()
        let old = try await store.enqueue([submission(["old@gmail.com", "waiting@gmail.com"])], now: t0)[0]
        _ = try await store.lease(limit: 1, owner: "n/1", now: t0, leaseUntil: t0 + .seconds(60), excluding: [], pausedSets: [])
        try await store.record([Outcome(id: old[0], state: .bounced, reply: SMTPReply(code: 550, enhancedStatus: "5.1.1", text: "unknown"),
                                        suppressRecipient: "old@gmail.com")],
                               events: [DeliveryEvent(kind: .bounce, time: t0, messageID: old[0], recipient: "old@gmail.com")], now: t0)
        let fresh = try await store.enqueue([submission(["new@gmail.com"])], now: t0 + day * 40)[0]
        var total = PurgeResult()
        while true {
            let batch = try await store.purge(before: t0 + day * 30, limit: 1)
            if batch.total == 0 { break }
            total.messages += batch.messages
            total.contents += batch.contents
            total.events += batch.events
        }
        #expect(total.messages == 1 && total.contents == 0 && total.events == 3)
        #expect(try await store.messages(ids: old + fresh).map(\.id) == [old[1], fresh[0]])
        #expect(try await store.suppression(of: "old@gmail.com")?.reason == .bounce)
        #expect(try await store.events(after: 0).map(\.event.recipient) == ["new@gmail.com"])
        _ = try await store.lease(limit: 10, owner: "n/1", now: t0 + day * 41, leaseUntil: t0 + day * 41 + .seconds(60), excluding: [], pausedSets: [])
        try await store.record([Outcome(id: old[1], state: .delivered, reply: SMTPReply(code: 250, text: "ok"))], events: [], now: t0 + day * 41)
        let later = try await store.purge(before: t0 + day * 72, limit: 100)
        #expect(later.messages == 1 && later.contents == 1)
        await db.drop()
    }
}
