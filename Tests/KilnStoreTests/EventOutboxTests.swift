import Foundation
import KilnCore
import KilnStore
import Testing

/// The event log as destinations read it, their cursors, and the retention purge.
@Suite struct EventOutboxTests {
    let t0 = Timestamp(nanoseconds: 1_700_000_000_000_000_000)
    let day = Duration.seconds(86_400)

    @Test func destinationsReadTheLogInOrderWithEachMessagesSetAndCampaign() async throws {
        let temp = try TemporaryStore()
        let store = try temp.open()
        var campaign = submission(["a@gmail.com", "b@gmail.com"], configurationSet: "news")
        campaign.content.campaign = "spring"
        let ids = try await store.enqueue([campaign], now: t0)[0]
        _ = try await store.lease(limit: 10, now: t0, leaseUntil: t0 + .seconds(60))
        let ok = SMTPReply(code: 250, enhancedStatus: "2.0.0", text: "ok")
        try await store.record([Outcome(id: ids[0], state: .delivered, reply: ok, via: .dedicated(ip: "127.0.0.2"))], events: [
            DeliveryEvent(kind: .delivery, time: t0, messageID: ids[0], recipient: "a@gmail.com", provider: .gmail, via: .dedicated(ip: "127.0.0.2"),
                          reply: ok, replyClass: .success, reason: .accepted, attempt: 1),
        ], now: t0)
        try await store.append(events: [DeliveryEvent(kind: .paused, time: t0, detail: "*")])
        let all = try await store.outboxEvents(after: .start, limit: 100)
        #expect(all.map(\.event.kind) == [.accepted, .accepted, .delivery, .paused])
        #expect(all.map(\.position) == all.map(\.position).sorted())
        #expect(Set(all.map(\.id)).count == 4)
        #expect(all[2].configurationSet == "news" && all[2].campaign == "spring" && all[2].contentID != nil)
        #expect(all[2].event.replyClass == .success && all[2].event.reason == .accepted && all[2].event.attempt == 1)
        #expect(all[3].configurationSet == nil)
        // Reading after a position returns only what follows it, and counts agree.
        let rest = try await store.outboxEvents(after: all[1].position, limit: 100)
        #expect(rest.map(\.id) == all.suffix(2).map(\.id))
        #expect(try await store.outboxCount(after: all[1].position, cap: 100) == 2)
        #expect(try await store.outboxCount(after: .start, cap: 3) == 3)
        // A destination counts only what it takes: its kinds, of its set, and engine events.
        #expect(try await store.outboxCount(after: .start, cap: 100, taking: OutboxFilter(kinds: ["delivery", "bounce"], configurationSet: "news")) == 1)
        #expect(try await store.outboxCount(after: .start, cap: 100, taking: OutboxFilter(kinds: ["delivery", "paused"], configurationSet: "other")) == 1)
        #expect(try await store.outboxCount(after: .start, cap: 100, taking: OutboxFilter(kinds: ["accepted", "delivery", "paused"], configurationSet: "news")) == 4)
        #expect(try await store.outboxTime(after: all[3].position) == nil)
        // A cursor and its last error survive a reopen.
        try await store.saveDestinationCursor(DestinationCursor(name: "news/hooks", position: all[2].position, lastError: "webhook: HTTP 503", lastErrorAt: t0))
        let reopened = try temp.open()
        let cursor = try #require(try await reopened.destinationCursors()["news/hooks"])
        #expect(cursor.position == all[2].position && cursor.lastError == "webhook: HTTP 503" && cursor.lastErrorAt == t0)
        try await reopened.saveDestinationCursor(DestinationCursor(name: "news/hooks", position: all[3].position))
        #expect(try await reopened.destinationCursors()["news/hooks"]?.lastError == nil)
    }

    @Test func purgeRemovesOldFinalMessagesTheirContentsAndEventsAndKeepsTheRest() async throws {
        let temp = try TemporaryStore()
        let store = try temp.open()
        let old = try await store.enqueue([submission(["old@gmail.com", "waiting@gmail.com"])], now: t0)[0]
        _ = try await store.lease(limit: 1, now: t0, leaseUntil: t0 + .seconds(60))
        try await store.record([Outcome(id: old[0], state: .bounced, reply: SMTPReply(code: 550, enhancedStatus: "5.1.1", text: "unknown"),
                                        suppressRecipient: "old@gmail.com")],
                               events: [DeliveryEvent(kind: .bounce, time: t0, messageID: old[0], recipient: "old@gmail.com")], now: t0)
        let fresh = try await store.enqueue([submission(["new@gmail.com"])], now: t0 + day * 40)[0]
        // Small batches: the purge goes on until nothing is left to remove.
        var total = PurgeResult()
        while true {
            let batch = try await store.purge(before: t0 + day * 30, limit: 1)
            if batch.total == 0 { break }
            total.messages += batch.messages
            total.contents += batch.contents
            total.events += batch.events
        }
        #expect(total.messages == 1)
        // The content stays: the waiting message (not final) still uses it.
        #expect(total.contents == 0)
        #expect(total.events == 3)
        let left = try await store.messages(ids: old + fresh)
        #expect(left.map(\.id) == [old[1], fresh[0]])
        // Suppressions are kept, and the newest event (the log's last id) always stays.
        #expect(try await store.suppression(of: "old@gmail.com")?.reason == .bounce)
        #expect(try await store.events().map(\.event.recipient) == ["new@gmail.com"])
        // Once the last message of a content is gone, so is the content.
        _ = try await store.lease(limit: 10, now: t0 + day * 41, leaseUntil: t0 + day * 41 + .seconds(60))
        try await store.record([Outcome(id: old[1], state: .delivered, reply: SMTPReply(code: 250, text: "ok"))], events: [], now: t0 + day * 41)
        let later = try await store.purge(before: t0 + day * 72, limit: 100)
        #expect(later.messages == 1 && later.contents == 1)
        #expect(try await store.contents(ids: [1]).isEmpty)
    }
}
