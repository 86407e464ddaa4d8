import Foundation
import KilnCore
import KilnPostgres
import KilnStore
import KilnTesting
import PostgresNIO
import Testing

/// The event log's commit order, which only a shared store needs (the rest of the log,
/// cursors and purge are in the store contract).
@Suite(.serialized, .enabled(if: PostgresTestServer.enabled, "set KILN_TEST_POSTGRES_URL (make test does)"))
struct PostgresOutboxTests {
    let t0 = Timestamp(nanoseconds: 1_800_000_000_000_000_000)

    /// An event whose id was taken by a transaction that commits late is not skipped: the
    /// later, committed event waits until the earlier transaction ends.
    @Test func anEventCommittedLateIsNeverSkipped() async throws {
        let db = try await PostgresTestServer.freshDatabase()
        let store = db.store()
        try await store.append(events: [DeliveryEvent(kind: .paused, time: t0, detail: "*")])
        let start = try #require(try await StoreContract.eventLog(store, after: .start, count: 1).last).position
        try await PostgresTestServer.admin(db.settings) { slow in
            try await slow.query("BEGIN", logger: PostgresTestServer.logger)
            try await slow.query("INSERT INTO events (time, kind, detail) VALUES (1, 'resumed', 'late')", logger: PostgresTestServer.logger)
            try await store.append(events: [DeliveryEvent(kind: .paused, time: t0, detail: "early")])
            // The committed event has the larger id; it is not read before the open one ends.
            #expect(try await store.outboxEvents(after: start, limit: 10).isEmpty)
            try await slow.query("COMMIT", logger: PostgresTestServer.logger)
        }
        let after = try await StoreContract.eventLog(store, after: start, count: 2)
        #expect(after.map(\.event.detail) == ["late", "early"])
        await db.drop()
    }
}
