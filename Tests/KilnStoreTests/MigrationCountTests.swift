import Foundation
import KilnStore
import Testing

/// `kiln migrate` says what it did: a new store applies every migration, a current one none.
@Suite struct MigrationCountTests {
    @Test func aNewStoreReportsTheMigrationsItAppliedAndAReopenedOneNone() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-migrate-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/kiln.sqlite"
        let fresh = try await SQLiteStore(path: path).migrate()
        #expect(fresh >= 8)
        let again = try await SQLiteStore(path: path).migrate()
        #expect(again == 0)
    }
}
