import Foundation
import KilnStore
import Testing

/// A commit is on disk before the caller hears of it: the writer syncs every commit
/// (`synchronous = FULL`), which GRDB's switch to WAL would otherwise lower to NORMAL.
@Suite struct DurabilitySettingTests {
    @Test func theWriterSyncsEveryCommit() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-sync-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try SQLiteStore(path: directory + "/kiln.sqlite")
        #expect(try await store.writerSynchronous() == 2)
        // And again after reopening an existing store.
        let reopened = try SQLiteStore(path: directory + "/kiln.sqlite")
        #expect(try await reopened.writerSynchronous() == 2)
    }
}
