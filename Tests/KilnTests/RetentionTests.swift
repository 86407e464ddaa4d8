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

    /// The database's size (what its file holds once the WAL is checkpointed) and the
    /// WAL file's.
    func sizes(_ h: EngineHarness) async throws -> (database: Int, free: Int, wal: Int) {
        let store = try #require(h.engine.store as? SQLiteStore)
        let (database, free) = try await store.databaseBytes()
        let wal = try FileManager.default.attributesOfItem(atPath: h.directory + "/kiln.sqlite-wal")[.size] as? Int ?? 0
        return (database, free, wal)
    }

    /// 60 days of 40 messages a day: after the first 30 days the store holds a steady
    /// number of messages and events.
    @Test func sixtyDaysAtASteadyVolumeKeepTheStoreFlat() async throws {
        let h = try await EngineHarness()
        defer { Task { await h.finish() } }
        var byDay: [(messages: Int, events: Int, bytes: Int, free: Int, wal: Int)] = []
        for day in 0..<60 {
            _ = try await h.engine.submit(OutgoingMessage(try h.draft(to: (0..<40).map { "user\(day)-\($0)@gmail.com" })))
            try await h.engine.runUntilIdle()
            try await h.engine.purgeExpired()
            let count = try await rows(h)
            let size = try await sizes(h)
            byDay.append((count.messages, count.events, size.database, size.free, size.wal))
            h.clock.advance(by: .seconds(86_400))
        }
        // 30 days are kept (the 31st is purged at its own age), then the size holds.
        #expect(byDay[29].messages == 30 * 40)
        #expect(byDay[35].messages == byDay[59].messages)
        #expect(byDay[59].messages <= 31 * 40)
        #expect(byDay[35].events == byDay[59].events)
        // And so do the files: the database holds what it needs, what a purge frees goes
        // back to the file system, and the WAL stays bounded (SQLite checkpoints it every
        // 1,000 pages and reuses it).
        #expect(byDay[59].bytes <= byDay[35].bytes + byDay[35].bytes / 20,
                "the database grew from \(byDay[35].bytes) to \(byDay[59].bytes) bytes with a steady number of rows")
        #expect(byDay[35...].allSatisfy { $0.free <= 64 * 4_096 }, "\(byDay.map(\.free))")
        #expect(byDay[35...].allSatisfy { $0.wal <= 8 * 1_024 * 1_024 }, "\(byDay.map(\.wal))")
        #expect(try await h.engine.store.suppressionTotal() == 0)
    }

    /// After a burst, once retention has purged it, the file gives the space back (a
    /// store created with incremental auto-vacuum) instead of keeping it as free pages.
    @Test func theStoreShrinksOnceABurstIsPurged() async throws {
        let h = try await EngineHarness()
        defer { Task { await h.finish() } }
        var bytes: [Int] = []
        for day in 0..<36 {
            let count = day == 0 ? 3_000 : 10
            for chunk in stride(from: 0, to: count, by: 500) {
                _ = try await h.engine.submit(OutgoingMessage(try h.draft(to: (chunk..<min(count, chunk + 500)).map { "user\(day)-\($0)@gmail.com" })))
            }
            try await h.engine.runUntilIdle()
            try await h.engine.purgeExpired()
            let size = try await sizes(h)
            bytes.append(size.database)
            #expect(size.free <= 64 * 4_096, "day \(day): \(size.free) bytes of free pages kept")
            h.clock.advance(by: .seconds(86_400))
        }
        // The burst (day 0) is gone from day 31 on: the file is a fraction of its peak.
        #expect(bytes[35] * 4 < bytes[29], "\(bytes)")
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
