import Foundation
import Kiln
import KilnCore
import KilnStore
import KilnTesting
import Testing

/// Retention on a manual clock: final messages, their contents and events older than
/// `store.retentionDays` go; what a destination has not taken stays.
@Suite struct RetentionTests {
    func rows(_ h: EngineHarness) async throws -> (messages: Int, events: Int) {
        let messages = try await h.engine.store.counts().reduce(0) { $0 + $1.count }
        let events = try await h.engine.store.outboxCount(after: .start, cap: 10_000_000)
        return (messages, events)
    }

    func fileSize(_ h: EngineHarness) throws -> Int {
        try FileManager.default.attributesOfItem(atPath: h.directory + "/kiln.sqlite")[.size] as? Int ?? 0
    }

    /// 60 days of 40 messages a day: after the first 30 days the store holds a steady
    /// number of messages and events.
    @Test func sixtyDaysAtASteadyVolumeKeepTheStoreFlat() async throws {
        let h = try await EngineHarness()
        defer { Task { await h.finish() } }
        var byDay: [(messages: Int, events: Int, bytes: Int)] = []
        for day in 0..<60 {
            _ = try await h.engine.submit(OutgoingMessage(try h.draft(to: (0..<40).map { "user\(day)-\($0)@gmail.com" })))
            try await h.engine.runUntilIdle()
            try await h.engine.purgeExpired()
            let count = try await rows(h)
            byDay.append((count.messages, count.events, try fileSize(h)))
            h.clock.advance(by: .seconds(86_400))
        }
        // 30 days are kept (the 31st is purged at its own age), then the size holds.
        #expect(byDay[29].messages == 30 * 40)
        #expect(byDay[35].messages == byDay[59].messages)
        #expect(byDay[59].messages <= 31 * 40)
        #expect(byDay[35].events == byDay[59].events)
        // The file's size is not asserted: SQLite keeps freed pages (and the WAL) without
        // shrinking; the rows above are what retention bounds.
        #expect(try await h.engine.store.suppressionTotal() == 0)
    }

    /// A destination that has not taken the events holds the purge back; once its cursor
    /// passes them, they go.
    @Test func eventsADestinationHasNotTakenAreKept() async throws {
        let h = try await EngineHarness(sets: [.init(name: "bulk", pool: "p", eventDestinations: [EventDestination(name: "log", type: "file", path: "e.jsonl")])])
        defer { Task { await h.finish() } }
        _ = try await h.engine.submit(OutgoingMessage(try h.draft(to: ["a@gmail.com", "b@gmail.com"])))
        try await h.engine.runUntilIdle()
        h.clock.advance(by: .seconds(40 * 86_400))
        #expect(try await h.engine.purgeExpired().total == 0)
        #expect(try await rows(h).messages == 2)
        let last = try #require(try await h.engine.store.outboxEvents(after: .start, limit: 100).last)
        try await h.engine.store.saveDestinationCursor(DestinationCursor(name: "bulk/log", position: last.position))
        let purged = try await h.engine.purgeExpired()
        #expect(purged.messages == 2 && purged.contents == 1)
        #expect(try await rows(h).messages == 0)
    }
}
