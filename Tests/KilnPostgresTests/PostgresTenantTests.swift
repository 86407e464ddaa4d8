import Foundation
import KilnCore
import KilnPostgres
import KilnStore
import Testing

/// Tenants, submitters' metadata and credentials on PostgreSQL: the same behaviour as
/// SQLite, and a credential change seen by every node sharing the database.
@Suite(.enabled(if: PostgresTestServer.enabled, "set KILN_TEST_POSTGRES_URL (make test does)"))
struct PostgresTenantTests {
    let t0 = Timestamp(nanoseconds: 1_800_000_000_000_000_000)

    func submission(_ recipients: [String], tenant: String = "default", set: String = "bulk", metadata: [UInt8]? = nil) -> Submission {
        Submission(
            content: StoredContent(data: Array("Subject: hi\r\n\r\nbody\r\n".utf8), envelopeDomain: "bounce.example.com", configurationSet: set,
                                   fromDomain: "example.com", tenant: tenant),
            recipients: recipients.map { Submission.Recipient(address: $0, provider: .gmail, metadata: metadata) })
    }

    /// The log once it holds `count` events: a transaction open elsewhere on the server
    /// (another test's) holds back what can be read, for a moment.
    func outbox(_ store: PostgresStore, count: Int) async throws -> [StoredEvent] {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            let events = try await store.outboxEvents(after: .start, limit: 100)
            if events.count >= count { return events }
            try await Task.sleep(for: .milliseconds(50))
        }
        return try await store.outboxEvents(after: .start, limit: 100)
    }

    @Test func tenantAndMetadataComeBackInRecordsContentsAndEvents() async throws {
        let db = try await PostgresTestServer.freshDatabase()
        let store = db.store()
        let metadata = Array(#"{"order":"42"}"#.utf8)
        let ids = try await store.enqueue([submission(["a@gmail.com"], tenant: "acme", metadata: metadata), submission(["b@gmail.com"])], now: t0)
        let records = try await store.messages(ids: ids.flatMap { $0 })
        #expect(records.map(\.tenant) == ["acme", "default"])
        #expect(records.map(\.metadata) == [metadata, nil])
        let leased = try await store.lease(limit: 10, owner: "n/1", now: t0, leaseUntil: t0 + .seconds(60), excluding: [], pausedSets: [])
        let contents = try await store.contents(ids: leased.map(\.contentID))
        #expect(Set(contents.values.map(\.tenant)) == ["acme", "default"])

        let ok = SMTPReply(code: 250, enhancedStatus: "2.0.0", text: "ok")
        try await store.record([Outcome(id: ids[0][0], state: .delivered, reply: ok, via: .shared)], events: [
            DeliveryEvent(kind: .delivery, time: t0, messageID: ids[0][0], recipient: "a@gmail.com", provider: .gmail, via: .shared, reply: ok),
        ], now: t0)
        try await store.append(events: [DeliveryEvent(kind: .paused, time: t0, detail: "*")])
        let events = try await outbox(store, count: 4)
        #expect(events.map(\.event.kind) == [.accepted, .accepted, .delivery, .paused])
        #expect(events.map(\.tenant) == ["acme", "default", "acme", nil])
        #expect(events.map(\.metadata) == [metadata, nil, metadata, nil])

        let own = try await store.events(ofMessage: ids[0][0], limit: 10)
        #expect(own.map(\.kind) == [.accepted, .delivery])
        #expect(own.allSatisfy { $0.messageID == ids[0][0] })
        #expect(try await store.events(ofMessage: ids[0][0], limit: 1).map(\.kind) == [.accepted])
        await db.drop()
    }

    @Test func aPausedTenantsMessagesStayQueuedAndAreNotDue() async throws {
        let db = try await PostgresTestServer.freshDatabase()
        let store = db.store()
        // acme's mail both bulk and transactional (leased by two different queries).
        var transactional = submission(["b@gmail.com"], tenant: "acme")
        transactional.priority = 1
        let queued = try await store.enqueue([submission(["a@gmail.com"], tenant: "acme"), transactional, submission(["c@gmail.com"])], now: t0)
        let ids = [queued[0] + queued[1], queued[2]]
        let paused: Set<String> = [PausedScope.tenant("acme")]
        #expect(try await store.nextDue(pausedSets: paused.union(["bulk"]), excluding: []) == nil)
        #expect(try await store.nextDue(pausedSets: paused, excluding: []) == t0)
        let leased = try await store.lease(limit: 10, owner: "n/1", now: t0, leaseUntil: t0 + .seconds(60), excluding: [], pausedSets: paused)
        #expect(leased.map(\.id) == ids[1])
        #expect(try await store.messages(ids: ids[0]).map(\.state) == [.queued, .queued])
        #expect(try await store.nextDue(pausedSets: paused, excluding: []) == nil)
        // A configuration set of the tenant's name is another scope.
        #expect(try await store.nextDue(pausedSets: ["acme"], excluding: []) == t0)
        let resumed = try await store.lease(limit: 10, owner: "n/1", now: t0, leaseUntil: t0 + .seconds(60), excluding: [], pausedSets: [])
        #expect(Set(resumed.map(\.id)) == Set(ids[0]))
        await db.drop()
    }

    @Test func reputationIsCountedPerTenantBesidesTheSet() async throws {
        let db = try await PostgresTestServer.freshDatabase()
        let store = db.store()
        let ids = try await store.enqueue([submission(["a@gmail.com", "b@gmail.com"], tenant: "acme"), submission(["c@gmail.com"], tenant: "zeta")],
                                          now: t0).flatMap { $0 }
        _ = try await store.lease(limit: 10, owner: "n/1", now: t0, leaseUntil: t0 + .seconds(60), excluding: [], pausedSets: [])
        let ok = SMTPReply(code: 250, enhancedStatus: "2.0.0", text: "ok")
        let unknown = SMTPReply(code: 550, enhancedStatus: "5.1.1", text: "no such user")
        try await store.record([
            Outcome(id: ids[0], state: .delivered, reply: ok, via: .shared),
            Outcome(id: ids[1], state: .bounced, reply: unknown, via: .shared, suppressRecipient: "b@gmail.com"),
            Outcome(id: ids[2], state: .delivered, reply: ok, via: .shared),
        ], events: [], now: t0)
        try await store.recordFeedback(events: [], bounces: [ids[2]], complaints: [ids[0]], suppressions: [], now: t0)
        let hours = try await store.reputationHours(now: t0, hours: 1)
        let acme = try #require(hours[PausedScope.tenant("acme")]?.first)
        #expect((acme.sent, acme.bounces, acme.complaints) == (2, 1, 1))
        let zeta = try #require(hours[PausedScope.tenant("zeta")]?.first)
        #expect((zeta.sent, zeta.bounces, zeta.complaints) == (1, 1, 0))
        let bulk = try #require(hours["bulk"]?.first)
        #expect((bulk.sent, bulk.bounces, bulk.complaints) == (3, 2, 1))
        #expect(hours.keys.sorted() == ["bulk", "tenant:acme", "tenant:zeta"])
        await db.drop()
    }

    @Test func credentialsAreCreatedOnceRotatedAndRevokedForEveryNode() async throws {
        let db = try await PostgresTestServer.freshDatabase()
        let one = db.store()
        let two = db.store()
        let record = CredentialRecord(name: "shop", tenant: "acme", identities: ["acme.example"], fromAddresses: ["news@acme.example"],
                                      sources: ["10.0.0.0/8"], secretHash: "pbkdf2-sha256$1$c2FsdA==$aGFzaA==", createdAt: t0)
        try await one.createCredential(record)
        try await one.createCredential(CredentialRecord(name: "api", tenant: "default", secretHash: "pbkdf2-sha256$1$eA==$eQ==", createdAt: t0))
        do {
            try await two.createCredential(CredentialRecord(name: "shop", tenant: "other", secretHash: "x", createdAt: t0))
            Issue.record("a duplicate name was accepted")
        } catch {
            #expect(error.code == .invalidInput)
        }
        #expect(try await two.credentials() == [CredentialRecord(name: "api", tenant: "default", secretHash: "pbkdf2-sha256$1$eA==$eQ==", createdAt: t0), record])

        let later = t0 + .seconds(60)
        #expect(try await two.rotateCredential(name: "shop", secretHash: "new", previousUntil: later + .seconds(3600), now: later))
        #expect(try await two.rotateCredential(name: "nobody", secretHash: "new", previousUntil: later, now: later) == false)
        let rotated = try #require(try await one.credentials().first { $0.name == "shop" })
        #expect(rotated.secretHash == "new" && rotated.previousHash == record.secretHash)
        #expect(rotated.previousUntil == later + .seconds(3600) && rotated.updatedAt == later && rotated.createdAt == t0)

        #expect(try await one.revokeCredential(name: "shop", now: later))
        #expect(try await one.revokeCredential(name: "shop", now: later) == false)
        let seen = try #require(try await two.credentials().first { $0.name == "shop" })
        #expect(seen.revokedAt == later)
        #expect(try await two.rotateCredential(name: "shop", secretHash: "again", previousUntil: later, now: later) == false)
        // A revoked name is never reused, even from another node.
        let reused = await #expect(throws: KilnError.self) {
            try await two.createCredential(CredentialRecord(name: "shop", tenant: "acme", secretHash: "y", createdAt: later))
        }
        #expect(reused?.code == .invalidInput)
        #expect(try await one.credentials().first { $0.name == "shop" }?.tenant == "acme")
        await db.drop()
    }

    @Test func concurrentCreatesOfOneNameLetExactlyOneIn() async throws {
        let db = try await PostgresTestServer.freshDatabase()
        let stores = [db.store(), db.store()]
        _ = try await stores[0].migrate()
        // Each attempt answers nil (created) or the code it was refused with.
        let refusals = await withTaskGroup(of: KilnError.Code?.self) { group in
            for i in 0..<8 {
                group.addTask { [t0] in
                    do {
                        try await stores[i % 2].createCredential(CredentialRecord(name: "race", tenant: "t\(i)", secretHash: "h\(i)", createdAt: t0))
                        return nil
                    } catch {
                        return (error as? KilnError)?.code ?? .storeFailure
                    }
                }
            }
            return await group.reduce(into: [KilnError.Code?]()) { $0.append($1) }
        }
        #expect(refusals.filter { $0 == nil }.count == 1)
        #expect(refusals.compactMap { $0 } == Array(repeating: .invalidInput, count: 7))
        #expect(try await stores[1].credentials().map(\.name) == ["race"])
        await db.drop()
    }
}
