import Foundation
import KilnCore
import KilnStore
import Testing

/// The store holds addresses and tokens: its files are the owner's alone.
@Suite struct StoreFileModeTests {
    func mode(_ path: String) -> mode_t? {
        var info = stat()
        return stat(path, &info) == 0 ? info.st_mode & 0o777 : nil
    }

    @Test func aNewStoreAndItsSideFilesAreCreatedOwnerOnly() async throws {
        let temp = try TemporaryStore()
        let store = try temp.open()
        _ = try await store.enqueue([submission(["a@gmail.com"])], now: Timestamp(nanoseconds: 1))
        let lock = try DeliveryLock(storePath: temp.path)
        var checked = 0
        for suffix in ["", "-wal", "-shm", ".deliver.lock"] {
            guard let mode = mode(temp.path + suffix) else { continue }
            #expect(mode == 0o600, "\(suffix.isEmpty ? "the database" : suffix) has mode \(String(mode, radix: 8))")
            checked += 1
        }
        #expect(checked >= 3)  // the database, its WAL and the lock at least
        withExtendedLifetime((store, lock)) {}
    }

    @Test(arguments: ["", ".deliver.lock"])
    func aWorldReadableFileLeftByAnOlderVersionIsTightened(suffix: String) throws {
        let temp = try TemporaryStore()
        #expect(FileManager.default.createFile(atPath: temp.path + suffix, contents: nil, attributes: [.posixPermissions: 0o644]))
        if suffix.isEmpty {
            _ = try temp.open()
        } else {
            withExtendedLifetime(try DeliveryLock(storePath: temp.path)) {}
        }
        #expect(mode(temp.path + suffix) == 0o600)
    }

    @Test func aPathWithANulIsRefused() {
        #expect(throws: KilnError.self) { try SQLiteStore(path: FileManager.default.temporaryDirectory.path + "/kiln\u{0}x.sqlite") }
    }
}
