import Foundation
import KilnCore
import KilnStore
import KilnTesting
import Testing

/// A store on a temporary file, removed afterwards.
final class TemporaryStore: Sendable {
    let directory: String
    let path: String
    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-store-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        path = directory + "/kiln.sqlite"
    }
    func open() throws -> SQLiteStore { try SQLiteStore(path: path) }
    deinit { try? FileManager.default.removeItem(atPath: directory) }
}

func submission(_ recipients: [String], provider: MailboxProvider = .gmail, configurationSet: String = "c") -> Submission {
    Submission(
        content: StoredContent(data: Array("Subject: x\r\n\r\nbody\r\n".utf8), envelopeDomain: "bounce.example.com", configurationSet: configurationSet),
        recipients: recipients.map { .init(address: $0, provider: provider) })
}

/// The store contract on SQLite: every check on a new file, reopened at each `open()`.
@Suite struct SQLiteStoreContractTests {
    @Test(arguments: StoreContract.checks)
    func theSQLiteStoreKeepsTheContract(_ check: StoreContract.Check) async throws {
        let temp = try TemporaryStore()
        let problems = try await check.run { try temp.open() }
        #expect(problems == [])
    }
}

/// What only the SQLite store does: one deliverer on one file.
@Suite struct SQLiteStoreTests {
    let t0 = Timestamp(nanoseconds: 1_700_000_000_000_000_000)

    @Test func aStoreReopenedAfterACrashReturnsLeasedMessages() async throws {
        let temp = try TemporaryStore()
        var ids: [MessageID] = []
        do {
            let store = try temp.open()
            ids = try await store.enqueue([submission(["a@gmail.com", "b@gmail.com"])], now: t0)[0]
            #expect(try await store.lease(limit: 10, now: t0, leaseUntil: t0 + .seconds(3600)).count == 2)
        }
        let reopened = try temp.open()
        // Leases that have not expired stay unless this process is the only deliverer.
        #expect(try await reopened.recoverLeases(all: false, now: t0 + .seconds(10)) == 0)
        #expect(try await reopened.recoverLeases(all: true, now: t0 + .seconds(10)) == 2)
        #expect(try await reopened.lease(limit: 10, now: t0, leaseUntil: t0 + .seconds(60)).map(\.id) == ids)
    }

    @Test func theOneDelivererTakesBackEveryLeaseWhenItBegins() async throws {
        let temp = try TemporaryStore()
        let store = try temp.open()
        _ = try await store.enqueue([submission(["a@gmail.com", "b@gmail.com"])], now: t0)
        _ = try await store.lease(limit: 1, owner: "a/run", now: t0, leaseUntil: t0 + .seconds(3600))
        _ = try await store.lease(limit: 1, owner: "b/run", now: t0, leaseUntil: t0 + .seconds(3600))
        let claim = try await store.beginDelivery(node: "a", now: t0 + .seconds(1))
        #expect(claim.recovered == 2)
        // It holds the delivery lock: a second deliverer on the file is refused.
        await #expect(throws: KilnError.self) { _ = try await store.beginDelivery(node: "b", now: t0 + .seconds(2)) }
        withExtendedLifetime(claim) {}
    }

    @Test func theDeliveryLockIsExclusive() async throws {
        let temp = try TemporaryStore()
        let lock = try DeliveryLock(storePath: temp.path)
        #expect(throws: KilnError.self) { try DeliveryLock(storePath: temp.path) }
        withExtendedLifetime(lock) {}
    }

    @Test func anUnwritablePathIsAClearError() {
        #expect(throws: KilnError.self) { try SQLiteStore(path: "/proc/kiln/nope.sqlite") }
    }
}
