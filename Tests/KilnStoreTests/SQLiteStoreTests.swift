import Foundation
import KilnCore
import KilnStore
import Testing

/// A store on a temporary file, removed afterwards.
final class TemporaryStore {
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

@Suite struct SQLiteStoreTests {
    let t0 = Timestamp(nanoseconds: 1_700_000_000_000_000_000)

    @Test func enqueuedMessagesAreQueuedWithTheirContent() async throws {
        let temp = try TemporaryStore()
        let store = try temp.open()
        let ids = try await store.enqueue([submission(["a@gmail.com", "b@gmail.com"]), submission(["c@yahoo.com"], provider: .yahoo)], now: t0)
        #expect(ids.map(\.count) == [2, 1])
        #expect(Set(ids.flatMap { $0 }).count == 3)
        let counts = try await store.counts()
        #expect(counts.contains(StateCount(state: .queued, provider: .gmail, count: 2)))
        #expect(counts.contains(StateCount(state: .queued, provider: .yahoo, count: 1)))
        let leased = try await store.lease(limit: 10, now: t0, leaseUntil: t0 + .seconds(60))
        #expect(leased.count == 3)
        let contents = try await store.contents(ids: Array(Set(leased.map(\.contentID))))
        #expect(contents.count == 2)
        #expect(contents.values.allSatisfy { $0.envelopeDomain == "bounce.example.com" })
    }

    @Test func leasingTakesOnlyDueMessagesOnce() async throws {
        let temp = try TemporaryStore()
        let store = try temp.open()
        let ids = try await store.enqueue([submission(["a@gmail.com", "b@gmail.com", "c@gmail.com"])], now: t0)[0]
        let first = try await store.lease(limit: 2, now: t0, leaseUntil: t0 + .seconds(60))
        #expect(first.map(\.id) == Array(ids.prefix(2)))
        let second = try await store.lease(limit: 10, now: t0, leaseUntil: t0 + .seconds(60))
        #expect(second.map(\.id) == [ids[2]])
        #expect(try await store.lease(limit: 10, now: t0, leaseUntil: t0 + .seconds(60)).isEmpty)
        // A deferral makes the message due later, not now.
        try await store.record([Outcome(id: ids[0], state: .deferred, nextAttemptAt: t0 + .seconds(300), reply: SMTPReply(code: 451, enhancedStatus: "4.3.0", text: "later"))], events: [], now: t0)
        #expect(try await store.lease(limit: 10, now: t0 + .seconds(299), leaseUntil: t0 + .seconds(400)).isEmpty)
        let again = try await store.lease(limit: 10, now: t0 + .seconds(300), leaseUntil: t0 + .seconds(400))
        #expect(again.map(\.id) == [ids[0]])
        #expect(again[0].attempts == 1)
    }

    @Test func outcomesAndEventsAreRecorded() async throws {
        let temp = try TemporaryStore()
        let store = try temp.open()
        let ids = try await store.enqueue([submission(["a@gmail.com", "b@gmail.com"])], now: t0)[0]
        _ = try await store.lease(limit: 10, now: t0, leaseUntil: t0 + .seconds(60))
        let bounce = SMTPReply(code: 550, enhancedStatus: "5.1.1", text: "user unknown")
        try await store.record([
            Outcome(id: ids[0], state: .delivered, reply: SMTPReply(code: 250, text: "ok"), via: .dedicated(ip: "127.0.0.2")),
            Outcome(id: ids[1], state: .bounced, reply: bounce, via: .dedicated(ip: "127.0.0.3"), suppressRecipient: "b@gmail.com"),
        ], events: [DeliveryEvent(kind: .bounce, time: t0, messageID: ids[1], recipient: "b@gmail.com", provider: .gmail, via: .dedicated(ip: "127.0.0.3"), reply: bounce)], now: t0)
        let records = try await store.messages(ids: ids)
        #expect(records.map(\.state) == [.delivered, .bounced])
        #expect(records[1].lastReply == bounce)
        #expect(records[0].via == .dedicated(ip: "127.0.0.2"))
        // The enqueue stored an accepted event per queued message, in the same transaction.
        let events = try await store.events()
        #expect(events.map(\.event.kind) == [.accepted, .accepted, .bounce])
        #expect(events.prefix(2).map(\.event.messageID) == ids.map { Optional($0) })
        #expect(events[2].event.reply == bounce)
    }

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

    @Test func expiredLeasesReturnToTheQueue() async throws {
        let temp = try TemporaryStore()
        let store = try temp.open()
        _ = try await store.enqueue([submission(["a@gmail.com"])], now: t0)
        _ = try await store.lease(limit: 10, now: t0, leaseUntil: t0 + .seconds(60))
        #expect(try await store.recoverLeases(all: false, now: t0 + .seconds(61)) == 1)
    }

    @Test func concurrentSubmitsAreGroupCommittedAndEachGetsItsOwnIDs() async throws {
        let temp = try TemporaryStore()
        let store = try temp.open()
        let results = try await withThrowingTaskGroup(of: [MessageID].self) { group in
            for i in 0..<200 {
                group.addTask { try await store.enqueue([submission(["user\(i)@gmail.com"])], now: self.t0)[0] }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.count == 200)
        #expect(Set(results.flatMap { $0 }).count == 200)
        let records = try await store.messages(ids: results.flatMap { $0 })
        #expect(Set(records.map(\.recipient)).count == 200)
    }

    @Test func pauseIsPersistedAcrossReopening() async throws {
        let temp = try TemporaryStore()
        do {
            let store = try temp.open()
            try await store.setPaused(true)
            try await store.setPaused(true, scope: "newsletter")
        }
        let reopened = try temp.open()
        #expect(try await reopened.pausedScopes() == ["*", "newsletter"])
        try await reopened.setPaused(false)
        #expect(try await reopened.pausedScopes() == ["newsletter"])
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
