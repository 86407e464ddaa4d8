import KilnCore
import KilnStore

/// The event log as destinations read it, their cursors, and the retention purge.
extension StoreContract {
    static let outbox: [Check] = [
        Check("destinations read the log in order, with cursors every handle sees", destinationsReadTheLogInOrder),
        Check("purge removes old final messages, their contents and old events, and keeps the rest", purgeRemovesWhatIsOldAndFinal),
    ]

    static func destinationsReadTheLogInOrder(_ c: Context) async throws {
        let store = try await c.open()
        let t0 = c.t0
        let ids = try await store.enqueue([submission(["a@gmail.com", "b@gmail.com"], set: "news", campaign: "spring")], now: t0)[0]
        _ = try await lease(store, now: t0)
        try await store.record([Outcome(id: ids[0], state: .delivered, reply: ok, via: .dedicated(ip: "127.0.0.2"))], events: [
            DeliveryEvent(kind: .delivery, time: t0, messageID: ids[0], recipient: "a@gmail.com", provider: .gmail, via: .dedicated(ip: "127.0.0.2"),
                          reply: ok, replyClass: .success, reason: .accepted, attempt: 1),
        ], now: t0)
        try await store.append(events: [DeliveryEvent(kind: .paused, time: t0 + .seconds(5), detail: "*")])
        let all = try await eventLog(store, count: 4)
        c.expect(all.map(\.event.kind) == [.accepted, .accepted, .delivery, .paused], "the log: \(all.map(\.event.kind))")
        c.expect(all.map(\.position) == all.map(\.position).sorted() && Set(all.map(\.id)).count == 4, "in order, each its own id: \(all.map(\.position))")
        guard all.count == 4 else { return }
        c.expect(all[2].configurationSet == "news" && all[2].campaign == "spring" && all[2].contentID != nil && all[2].tenant == "default",
                 "the delivery with its message's set, campaign, content and tenant: \(all[2])")
        c.expect(all[2].event.replyClass == .success && all[2].event.reason == .accepted && all[2].event.attempt == 1, "the event as given: \(all[2].event)")
        c.expect(all[3].configurationSet == nil && all[3].event.detail == "*", "an engine event has no set: \(all[3])")
        // Reading after a position returns only what follows it, and counts agree.
        let rest = try await store.outboxEvents(after: all[1].position, limit: 100)
        c.expect(rest.map(\.id) == all.suffix(2).map(\.id), "after the second: \(rest.map(\.id))")
        let limited = try await store.outboxEvents(after: .start, limit: 3)
        c.expect(limited.map(\.id) == all.prefix(3).map(\.id), "at most the limit: \(limited.map(\.id))")
        let counted = try await store.outboxCount(after: all[1].position, cap: 100)
        let capped = try await store.outboxCount(after: .start, cap: 3)
        c.expect(counted == 2 && capped == 3, "counts after a position, and capped: \(counted), \(capped)")
        // A destination counts only what it takes: its kinds, of its set, and engine events.
        let news = try await store.outboxCount(after: .start, cap: 100, taking: OutboxFilter(kinds: ["delivery", "bounce"], configurationSet: "news"))
        let other = try await store.outboxCount(after: .start, cap: 100, taking: OutboxFilter(kinds: ["delivery", "paused"], configurationSet: "other"))
        let every = try await store.outboxCount(after: .start, cap: 100, taking: OutboxFilter(kinds: ["accepted", "delivery", "paused"], configurationSet: "news"))
        c.expect((news, other, every) == (1, 1, 4), "filtered counts: \(news), \(other), \(every)")
        let time = try await store.outboxTime(after: all[2].position)
        let end = try await store.outboxTime(after: all[3].position)
        c.expect(time == t0 + .seconds(5) && end == nil, "the time of the next event: \(String(describing: time)), \(String(describing: end))")
        // A cursor and its last error are seen by another handle (a reopened store, another node).
        try await store.saveDestinationCursor(DestinationCursor(name: "news/hooks", position: all[2].position, lastError: "webhook: HTTP 503", lastErrorAt: t0))
        let again = try await c.open()
        let cursor = try c.require(try await again.destinationCursors()["news/hooks"], "the saved cursor")
        c.expect(cursor.position == all[2].position && cursor.lastError == "webhook: HTTP 503" && cursor.lastErrorAt == t0, "the cursor as saved: \(cursor)")
        try await again.saveDestinationCursor(DestinationCursor(name: "news/hooks", position: all[3].position))
        let cleared = try await store.destinationCursors()
        c.expect(cleared.count == 1 && cleared["news/hooks"]?.lastError == nil && cleared["news/hooks"]?.position == all[3].position,
                 "a success clears the error: \(cleared)")
    }

    static func purgeRemovesWhatIsOldAndFinal(_ c: Context) async throws {
        let store = try await c.open()
        let t0 = c.t0
        let day = Duration.seconds(86_400)
        let old = try await store.enqueue([submission(["old@gmail.com", "waiting@gmail.com"])], now: t0)[0]
        let first = try await lease(store, limit: 1, now: t0)
        try await store.record([Outcome(id: old[0], state: .bounced, reply: unknown, suppressRecipient: "old@gmail.com")],
                               events: [DeliveryEvent(kind: .bounce, time: t0, messageID: old[0], recipient: "old@gmail.com")], now: t0)
        let fresh = try await store.enqueue([submission(["new@gmail.com"])], now: t0 + day * 40)[0]
        // Small batches: the purge goes on until nothing is left to remove.
        var total = PurgeResult()
        var batches = 0
        while batches < 20 {
            let batch = try await store.purge(before: t0 + day * 30, limit: 1)
            if batch.total == 0 { break }
            total.messages += batch.messages
            total.contents += batch.contents
            total.events += batch.events
            batches += 1
        }
        // The content stays: the waiting message (not final) still uses it.
        c.expect((total.messages, total.contents, total.events) == (1, 0, 3), "removed 1 message, no content, 3 events: \(total)")
        let left = try await store.messages(ids: old + fresh).map(\.id)
        c.expect(left == [old[1], fresh[0]], "the waiting and the new message stay: \(left)")
        // Suppressions are kept.
        let suppressed = try await store.suppression(of: "old@gmail.com")?.reason
        c.expect(suppressed == .bounce, "the suppression stays: \(String(describing: suppressed))")
        let events = try await store.events(after: 0, limit: 100).map(\.event.recipient)
        c.expect(events == ["new@gmail.com"], "the new message's event stays: \(events)")
        // Once the last message of a content is gone, so is the content.
        _ = try await lease(store, now: t0 + day * 41)
        try await store.record([Outcome(id: old[1], state: .delivered, reply: ok)], events: [], now: t0 + day * 41)
        let later = try await store.purge(before: t0 + day * 72, limit: 100)
        c.expect(later.messages == 1 && later.contents == 1, "the last message and its content: \(later)")
        let contentID = try c.require(first.first?.contentID, "the first lease's content")
        let gone = try await store.contents(ids: [contentID])
        c.expect(gone.isEmpty, "the content is gone: \(gone.keys)")
    }
}
