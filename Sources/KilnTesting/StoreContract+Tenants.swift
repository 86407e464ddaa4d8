import KilnCore
import KilnStore

/// Tenants, submitters' metadata and the front door's credentials.
extension StoreContract {
    static let tenants: [Check] = [
        Check("tenant and metadata come back in records, contents and events", tenantAndMetadataComeBack),
        Check("a paused tenant's messages stay queued and are not due", aPausedTenantsMessagesStayQueued),
        Check("credentials are created once, rotated and revoked for every handle", credentialsAreCreatedOnceRotatedAndRevoked),
        Check("concurrent creates of one credential name let exactly one in", concurrentCreatesLetOneIn),
    ]

    static func tenantAndMetadataComeBack(_ c: Context) async throws {
        let store = try await c.open()
        let t0 = c.t0
        let metadata = Array(#"{"order":"42"}"#.utf8)
        let ids = try await store.enqueue([submission(["a@gmail.com"], tenant: "acme", metadata: metadata), submission(["b@gmail.com"])], now: t0)
        let records = try await store.messages(ids: ids.flatMap { $0 })
        c.expect(records.map(\.tenant) == ["acme", "default"] && records.map(\.metadata) == [metadata, nil], "records: \(records)")
        let leased = try await lease(store, now: t0)
        let contents = try await store.contents(ids: leased.map(\.contentID))
        c.expect(Set(contents.values.map(\.tenant)) == ["acme", "default"], "contents' tenants: \(contents.values.map(\.tenant))")
        try await store.record([Outcome(id: ids[0][0], state: .delivered, reply: ok, via: .shared)], events: [
            DeliveryEvent(kind: .delivery, time: t0, messageID: ids[0][0], recipient: "a@gmail.com", provider: .gmail, via: .shared, reply: ok),
        ], now: t0)
        try await store.append(events: [DeliveryEvent(kind: .paused, time: t0, detail: "*")])
        let events = try await eventLog(store, count: 4)
        c.expect(events.map(\.event.kind) == [.accepted, .accepted, .delivery, .paused], "the log: \(events.map(\.event.kind))")
        c.expect(events.map(\.tenant) == ["acme", "default", "acme", nil], "the events' tenants: \(events.map(\.tenant))")
        c.expect(events.map(\.metadata) == [metadata, nil, metadata, nil], "the events' metadata")
        let own = try await store.events(ofMessage: ids[0][0], limit: 10)
        c.expect(own.map(\.kind) == [.accepted, .delivery] && own.allSatisfy { $0.messageID == ids[0][0] }, "the message's events: \(own)")
        let first = try await store.events(ofMessage: ids[0][0], limit: 1).map(\.kind)
        c.expect(first == [.accepted], "at most the limit, oldest first: \(first)")
    }

    static func aPausedTenantsMessagesStayQueued(_ c: Context) async throws {
        let store = try await c.open()
        let t0 = c.t0
        // acme's mail both bulk and transactional (leased first, apart from bulk).
        let queued = try await store.enqueue([submission(["a@gmail.com"], tenant: "acme"), submission(["b@gmail.com"], tenant: "acme", priority: 1),
                                              submission(["c@gmail.com"])], now: t0)
        let acme = queued[0] + queued[1]
        let paused: Set<String> = [PausedScope.tenant("acme")]
        let none = try await store.nextDue(pausedSets: paused.union(["bulk"]), excluding: [])
        let due = try await store.nextDue(pausedSets: paused, excluding: [])
        c.expect(none == nil && due == t0, "due only outside the paused tenant: \(String(describing: none)), \(String(describing: due))")
        let leased = try await lease(store, now: t0, pausedSets: paused)
        c.expect(leased.map(\.id) == queued[2], "only the other tenant's: \(leased.map(\.recipient))")
        let states = try await store.messages(ids: acme).map(\.state)
        c.expect(states == [.queued, .queued], "acme's stay queued: \(states)")
        let after = try await store.nextDue(pausedSets: paused, excluding: [])
        c.expect(after == nil, "nothing else due: \(String(describing: after))")
        // A configuration set of the tenant's name is another scope.
        let bySet = try await store.nextDue(pausedSets: ["acme"], excluding: [])
        c.expect(bySet == t0, "a set named acme pauses nothing here: \(String(describing: bySet))")
        let resumed = try await lease(store, now: t0)
        c.expect(Set(resumed.map(\.id)) == Set(acme), "leased once resumed: \(resumed.map(\.recipient))")
    }

    static func credentialsAreCreatedOnceRotatedAndRevoked(_ c: Context) async throws {
        let one = try await c.open()
        let two = try await c.open()
        let t0 = c.t0
        let record = CredentialRecord(name: "shop", tenant: "acme", identities: ["acme.example"], fromAddresses: ["news@acme.example"],
                                      sources: ["10.0.0.0/8"], secretHash: "pbkdf2-sha256$1$c2FsdA==$aGFzaA==", createdAt: t0)
        let api = CredentialRecord(name: "api", tenant: "default", secretHash: "pbkdf2-sha256$1$eA==$eQ==", createdAt: t0)
        try await one.createCredential(record)
        try await one.createCredential(api)
        do {
            try await two.createCredential(CredentialRecord(name: "shop", tenant: "other", secretHash: "x", createdAt: t0))
            c.expect(false, "a duplicate name was accepted")
        } catch {
            c.expect(error.code == .invalidInput, "a duplicate name is invalid input: \(error)")
        }
        let listed = try await two.credentials()
        c.expect(listed == [api, record], "every credential by name, as created: \(listed)")

        let later = t0 + .seconds(60)
        let rotated = try await two.rotateCredential(name: "shop", secretHash: "new", previousUntil: later + .seconds(3600), now: later)
        let nobody = try await two.rotateCredential(name: "nobody", secretHash: "new", previousUntil: later, now: later)
        c.expect(rotated && !nobody, "rotated the one that exists: \(rotated), \(nobody)")
        let shop = try c.require(try await one.credentials().first { $0.name == "shop" }, "the rotated credential")
        c.expect(shop.secretHash == "new" && shop.previousHash == record.secretHash, "the new hash, the old one kept: \(shop)")
        c.expect(shop.previousUntil == later + .seconds(3600) && shop.updatedAt == later && shop.createdAt == t0, "the rotation's times: \(shop)")

        let revoked = try await one.revokeCredential(name: "shop", now: later)
        let twice = try await one.revokeCredential(name: "shop", now: later)
        c.expect(revoked && !twice, "revoked once: \(revoked), \(twice)")
        let seen = try await two.credentials().first { $0.name == "shop" }
        c.expect(seen?.revokedAt == later, "the other handle sees it revoked: \(String(describing: seen))")
        let again = try await two.rotateCredential(name: "shop", secretHash: "again", previousUntil: later, now: later)
        c.expect(!again, "a revoked credential is not rotated")
        // A revoked name is never reused, even from another handle.
        do {
            try await two.createCredential(CredentialRecord(name: "shop", tenant: "acme", secretHash: "y", createdAt: later))
            c.expect(false, "a revoked name was reused")
        } catch {
            c.expect(error.code == .invalidInput, "a revoked name is invalid input: \(error)")
        }
        let kept = try await one.credentials().first { $0.name == "shop" }
        c.expect(kept?.secretHash == "new" && kept?.tenant == "acme", "the revoked one stays as it was: \(String(describing: kept))")
    }

    static func concurrentCreatesLetOneIn(_ c: Context) async throws {
        let stores = [try await c.open(), try await c.open()]
        _ = try await stores[0].migrate()
        let t0 = c.t0
        // Each attempt answers nil (created) or the code it was refused with.
        let refusals = await withTaskGroup(of: KilnError.Code?.self) { group in
            for i in 0..<8 {
                group.addTask {
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
        c.expect(refusals.filter { $0 == nil }.count == 1, "exactly one created: \(refusals)")
        c.expect(refusals.compactMap { $0 } == Array(repeating: .invalidInput, count: 7), "the others refused as invalid input: \(refusals)")
        let names = try await stores[1].credentials().map(\.name)
        c.expect(names == ["race"], "one credential: \(names)")
    }
}
