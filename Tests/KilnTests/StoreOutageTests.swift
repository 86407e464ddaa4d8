import Dispatch
import Foundation
import GRDB
import Kiln
import KilnCore
@testable import KilnStore
import KilnTesting
import Synchronization
import Testing

/// A SQLite store made full as a disk fills: its file is capped at its present size
/// (SQLite's `max_page_count`) and its free pages are used up, so that every write that
/// needs a new page fails with SQLITE_FULL, the error a full disk gives.
final class FullDisk: Sendable {
    let store: SQLiteStore
    let filled = Mutex(false)

    init(_ store: SQLiteStore) { self.store = store }

    /// Fills the store once; blocks the calling thread (the transport's) until done.
    func fillOnce() {
        guard filled.withLock({ done in defer { done = true }; return !done }) else { return }
        let done = DispatchSemaphore(value: 0)
        Task {
            defer { done.signal() }
            try? await store.pool.writeWithoutTransaction { db in
                try db.execute(sql: "CREATE TABLE IF NOT EXISTS filler(b BLOB)")
                let pages = try Int.fetchOne(db, sql: "PRAGMA page_count") ?? 0
                _ = try Row.fetchOne(db, sql: "PRAGMA max_page_count = \(pages)")
                do {
                    while true { try db.execute(sql: "INSERT INTO filler VALUES (zeroblob(512))") }
                } catch let error as DatabaseError where error.resultCode == .SQLITE_FULL {}
            }
        }
        done.wait()
    }

    /// Space again: the filler goes and the cap is lifted.
    func free() async throws {
        try await store.pool.writeWithoutTransaction { db in
            _ = try Row.fetchOne(db, sql: "PRAGMA max_page_count = 1073741823")
            try db.execute(sql: "DROP TABLE IF EXISTS filler")
        }
    }
}

@Suite struct StoreOutageTests {
    /// The store fills while the first transfers are under way: the run does not stop;
    /// `/readyz` says why it waits; once there is space again every message is delivered,
    /// once each.
    @Test(.timeLimit(.minutes(2))) func aFullStoreIsWaitedOutAndNothingIsLost() async throws {
        let disk = Mutex<FullDisk?>(nil)
        let h = try await EngineHarness { command in
            if case .recipient = command.kind { disk.withLock { $0 }?.fillOnce() }
            return nil
        }
        let store = try #require(h.engine.store as? SQLiteStore)
        let recipients = (0..<40).map { "r\($0)@gmail.com" }
        var ids: [MessageID] = []
        for recipient in recipients { ids += try await h.engine.submit(OutgoingMessage(h.draft(to: [recipient]))) }
        let full = FullDisk(store)
        disk.withLock { $0 = full }

        let run = Task { try await h.engine.runUntilIdle() }
        // The run waits for the store instead of ending with its error: it backs off on
        // its clock, having said why.
        let engine = h.engine
        _ = await h.clock.nextSleep { _ in
            let readiness = engine.readiness()
            return !readiness.ready && readiness.reason.contains("store unavailable")
        }
        try await full.free()
        // The backoff (0.5 s doubling to 30 s) runs out on the clock.
        let advancing = Task {
            while !Task.isCancelled {
                _ = await h.clock.nextSleep()
                if !Task.isCancelled { h.clock.advance(by: .seconds(30)) }
            }
        }
        try await run.value
        advancing.cancel()

        let records = try await store.messages(ids: ids)
        #expect(records.count == recipients.count)
        #expect(records.allSatisfy { $0.state == .delivered }, "\(records.filter { $0.state != .delivered }.map { "\($0.id): \($0.state)" })")
        #expect(Set(h.network.messages.flatMap(\.recipients)) == Set(recipients))
        #expect(h.network.messages.count == recipients.count, "each message once")
        #expect(!h.engine.readiness().reason.contains("store unavailable"))
        await h.finish()
    }
}
