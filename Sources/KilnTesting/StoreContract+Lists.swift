import KilnCore
import KilnStore

/// The suppression list and its pages, the reputation counters, feedback, campaigns.
extension StoreContract {
    static let lists: [Check] = [
        Check("suppressions and their pages are shared by every handle", suppressionsAndTheirPages),
        Check("reputation is counted per tenant besides the set", reputationPerTenantAndSet),
        Check("the reputation window restarts from the next hour", theReputationWindowRestarts),
        Check("feedback finds its message by id, else by its latest sent recipient", feedbackFindsItsMessage),
    ]

    static let campaigns: [Check] = [
        Check("campaigns ingest rows, skip suppressed ones and page their recipients", campaignsIngestAndPageRecipients),
    ]

    static func suppressionsAndTheirPages(_ c: Context) async throws {
        let one = try await c.open()
        let two = try await c.open()
        let t0 = c.t0
        let entries = (0..<25).map { SuppressionEntry(address: "User\($0)@Example.com", reason: $0 % 2 == 0 ? .manual : .complaint, source: "test", createdAt: t0) }
        let added = try await one.suppress(entries + [entries[0]], replace: false)
        c.expect(added == 25, "25 new entries (one twice): \(added)")
        let scoped = try await one.suppress([SuppressionEntry(address: "user0@example.com", scope: "bulk", reason: .unsubscribe, source: "t", createdAt: t0)],
                                            replace: false)
        c.expect(scoped == 1, "the same address in a set's scope is another entry: \(scoped)")
        let total = try await two.suppressionTotal()
        c.expect(total == 26, "total: \(total)")
        let counts = try await two.suppressionCounts()
        c.expect(counts == [.manual: 13, .complaint: 12, .unsubscribe: 1], "counts by reason: \(counts)")
        let found = try await two.suppressions(of: ["USER1@example.com", "nobody@example.com"], scope: "bulk")
        c.expect(found == ["USER1@example.com": .complaint], "found by address, whatever its case: \(found)")
        // The account-wide entry comes before the set's.
        let first = try await two.suppression(of: "user0@example.com", scope: "bulk")
        c.expect(first?.reason == .manual && first?.scope == nil, "the account-wide entry first: \(String(describing: first))")
        let onlySet = try await two.suppression(of: "user0@example.com", scope: "other")
        c.expect(onlySet?.reason == .manual, "another set sees the account-wide entry: \(String(describing: onlySet))")
        // An existing entry stays, unless replaced.
        let kept = try await one.suppress([SuppressionEntry(address: "user2@example.com", reason: .bounce, source: "later", createdAt: t0)], replace: false)
        let keptReason = try await one.suppression(of: "user2@example.com")?.reason
        c.expect(kept == 0 && keptReason == .manual, "the first entry stays: \(kept), \(String(describing: keptReason))")
        _ = try await one.suppress([SuppressionEntry(address: "user2@example.com", reason: .bounce, source: "import", createdAt: t0)], replace: true)
        let replaced = try await two.suppression(of: "User2@Example.com")
        c.expect(replaced?.reason == .bounce && replaced?.source == "import", "a replace takes its place: \(String(describing: replaced))")

        var seen: [String] = []
        var token: String?
        var pages = 0
        repeat {
            let page = try await two.suppressionPage(reason: nil, pageSize: 7, after: token)
            seen += page.entries.map { ($0.scope ?? "") + ":" + $0.address }
            token = page.nextToken
            pages += 1
        } while token != nil && pages < 10
        c.expect(seen.count == 26 && Set(seen).count == 26 && pages == 4, "26 entries in 4 pages: \(seen.count) in \(pages)")
        c.expect(seen == seen.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }, "pages in (scope, address) byte order: \(seen)")
        let complaints = try await two.suppressionPage(reason: .complaint, pageSize: 100, after: nil)
        c.expect(complaints.entries.count == 12 && complaints.nextToken == nil && complaints.entries.allSatisfy { $0.reason == .complaint },
                 "a page of one reason: \(complaints.entries.count)")
        do {
            _ = try await two.suppressionPage(reason: nil, pageSize: 7, after: "not a token")
            c.expect(false, "a token the list did not give out should be refused")
        } catch {
            c.expect(error.code == .invalidInput, "a bad token is invalid input: \(error)")
        }
        let removed = try await two.unsuppress("USER0@example.com", scope: "bulk")
        let removedAgain = try await two.unsuppress("user0@example.com", scope: "bulk")
        c.expect(removed && !removedAgain, "removed once: \(removed), \(removedAgain)")
        let accountWide = try await one.unsuppress("user0@example.com", scope: nil)
        let gone = try await one.suppression(of: "user0@example.com", scope: "bulk")
        c.expect(accountWide && gone == nil, "the account-wide entry removed too: \(String(describing: gone))")
    }

    static func reputationPerTenantAndSet(_ c: Context) async throws {
        let store = try await c.open()
        let t0 = c.t0
        let ids = try await store.enqueue([submission(["a@gmail.com", "b@gmail.com"], tenant: "acme"), submission(["c@gmail.com"], tenant: "zeta")],
                                          now: t0).flatMap { $0 }
        _ = try await lease(store, now: t0)
        try await store.record([
            Outcome(id: ids[0], state: .delivered, reply: ok, via: .shared),
            Outcome(id: ids[1], state: .bounced, reply: unknown, via: .shared, suppressRecipient: "b@gmail.com"),
            Outcome(id: ids[2], state: .delivered, reply: ok, via: .shared),
        ], events: [], now: t0)
        let feedback = DeliveryEvent(kind: .complaint, time: t0, messageID: ids[0], recipient: "a@gmail.com", provider: .gmail)
        let added = try await store.recordFeedback(events: [feedback], bounces: [ids[2]], complaints: [ids[0]],
                                                   suppressions: [SuppressionEntry(address: "a@gmail.com", reason: .complaint, source: "arf", createdAt: t0)],
                                                   now: t0)
        c.expect(added == 1, "feedback suppressed one address: \(added)")
        let complained = try await store.suppression(of: "a@gmail.com")?.reason
        c.expect(complained == .complaint, "the complaint's suppression: \(String(describing: complained))")
        let kinds = try await store.events(ofMessage: ids[0], limit: 10).map(\.kind)
        c.expect(kinds == [.accepted, .complaint], "the feedback's event: \(kinds)")
        let hours = try await store.reputationHours(now: t0, hours: 1)
        let acme = hours[PausedScope.tenant("acme")]?.first
        c.expect(acme.map { ($0.sent, $0.bounces, $0.complaints) == (2, 1, 1) } == true, "acme: 2 sent, 1 bounce, 1 complaint: \(String(describing: acme))")
        let zeta = hours[PausedScope.tenant("zeta")]?.first
        c.expect(zeta.map { ($0.sent, $0.bounces, $0.complaints) == (1, 1, 0) } == true, "zeta: 1 sent, 1 bounce: \(String(describing: zeta))")
        let bulk = hours["bulk"]?.first
        c.expect(bulk.map { ($0.sent, $0.bounces, $0.complaints) == (3, 2, 1) } == true, "the set: 3 sent, 2 bounces, 1 complaint: \(String(describing: bulk))")
        c.expect(hours.keys.sorted() == ["bulk", "tenant:acme", "tenant:zeta"], "the scopes: \(hours.keys.sorted())")
        c.expect(bulk?.hour == t0.nanoseconds / 3_600_000_000_000, "counted in the hour of `now`: \(String(describing: bulk?.hour))")
        // An hour out of the window is not read.
        let later = try await store.reputationHours(now: t0 + .seconds(7200), hours: 1)
        c.expect(later.isEmpty, "nothing in the last hour two hours later: \(later)")
    }

    static func theReputationWindowRestarts(_ c: Context) async throws {
        let store = try await c.open()
        let before = try await store.reputationWindowStart(scope: "bulk")
        c.expect(before == nil, "no window start yet: \(String(describing: before))")
        try await store.restartReputationWindow(scope: "bulk", now: c.t0)
        let hour = c.t0.nanoseconds / 3_600_000_000_000
        let start = try await c.open().reputationWindowStart(scope: "bulk")
        c.expect(start == hour + 1, "the next hour: \(String(describing: start)), not \(hour + 1)")
        try await store.restartReputationWindow(scope: "bulk", now: c.t0 + .seconds(7200))
        let moved = try await store.reputationWindowStart(scope: "bulk")
        c.expect(moved == hour + 3, "restarted again: \(String(describing: moved))")
        let other = try await store.reputationWindowStart(scope: "*")
        c.expect(other == nil, "other scopes keep theirs: \(String(describing: other))")
    }

    static func feedbackFindsItsMessage(_ c: Context) async throws {
        let store = try await c.open()
        let t0 = c.t0
        let ids = try await store.enqueue([submission(["Ann@gmail.com", "ann@gmail.com", "bob@gmail.com"], set: "news")], now: t0)[0]
        let byID = try await store.feedbackTarget(messageID: ids[2], recipient: "someone@else.com")
        c.expect(byID.map { ($0.id, $0.configurationSet, $0.recipient) == (ids[2], "news", "bob@gmail.com") } == true,
                 "by id, whatever the recipient: \(String(describing: byID))")
        let unsent = try await store.feedbackTarget(messageID: nil, recipient: "ann@gmail.com")
        c.expect(unsent == nil, "a message never attempted is not a target: \(String(describing: unsent))")
        _ = try await lease(store, now: t0)
        try await store.record([Outcome(id: ids[0], state: .delivered, reply: ok), Outcome(id: ids[1], state: .deferred, nextAttemptAt: t0 + .seconds(60), reply: later)],
                               events: [], now: t0)
        let latest = try await store.feedbackTarget(messageID: nil, recipient: "ANN@gmail.com")
        c.expect(latest?.id == ids[1], "the latest attempted message to the recipient, whatever its case: \(String(describing: latest))")
        let none = try await store.feedbackTarget(messageID: nil, recipient: nil)
        c.expect(none == nil, "nothing to look for: \(String(describing: none))")
        let missing = try await store.feedbackTarget(messageID: MessageID(ids[2].rawValue + 1000), recipient: nil)
        c.expect(missing == nil, "an id not stored: \(String(describing: missing))")
    }

    static func campaignsIngestAndPageRecipients(_ c: Context) async throws {
        let store = try await c.open()
        let t0 = c.t0
        let content = StoredContent(data: Array("{}".utf8), envelopeDomain: "bounce.example.com", configurationSet: "bulk", campaign: "c1", isTemplate: true)
        let record = try await store.createCampaign(id: "c1", content: content, recipientsFile: "list.csv", now: t0)
        c.expect(record.configurationSet == "bulk" && record.recipientsFile == "list.csv" && record.rowsRead == 0 && !record.ingestComplete,
                 "a new campaign: \(record)")
        let existing = try await c.open().createCampaign(id: "c1", content: content, recipientsFile: "other.csv", now: t0)
        c.expect(existing == record, "creating it again returns the one stored: \(existing)")
        let missing = try await store.campaign(id: "c2")
        c.expect(missing == nil, "no such campaign: \(String(describing: missing))")
        _ = try await store.suppress([SuppressionEntry(address: "x3@gmail.com", reason: .manual, source: "t", createdAt: t0),
                                      SuppressionEntry(address: "X5@gmail.com", scope: "bulk", reason: .unsubscribe, source: "t", createdAt: t0),
                                      SuppressionEntry(address: "x6@gmail.com", scope: "other", reason: .unsubscribe, source: "t", createdAt: t0)],
                                     replace: false)
        let rows = (0..<10).map { CampaignRow(address: "x\($0)@gmail.com", provider: .gmail, variables: Array("{\"n\":\($0)}".utf8)) }
        let first = try await store.ingest(campaign: "c1", contentID: record.contentID, rows: Array(rows.prefix(6)), rowsRead: 7, rejected: 1, duplicates: 0,
                                           complete: false, now: t0)
        c.expect(first == 4, "the first batch queues 4 of 6 (x3 account-wide, x5 in the set): \(first)")
        let middle = try c.require(try await store.campaign(id: "c1"), "the campaign after a batch")
        c.expect((middle.rowsRead, middle.accepted, middle.suppressed, middle.rejectedRows, middle.ingestComplete) == (7, 4, 2, 1, false),
                 "the resume point after the first batch: \(middle)")
        let second = try await store.ingest(campaign: "c1", contentID: record.contentID, rows: Array(rows.dropFirst(6)), rowsRead: 12, rejected: 0, duplicates: 1,
                                            complete: true, now: t0)
        c.expect(second == 4, "the second batch queues all 4 (x6 is another set's): \(second)")
        let stored = try c.require(try await store.campaign(id: "c1"), "the campaign")
        c.expect((stored.rowsRead, stored.accepted, stored.suppressed, stored.rejectedRows, stored.duplicates, stored.ingestComplete) == (12, 8, 2, 1, 1, true),
                 "the campaign's counters: \(stored)")
        var addresses: [String] = []
        var after: MessageID?
        var pages = 0
        repeat {
            let page = try await store.recipients(contentID: record.contentID, after: after, limit: 3)
            addresses += page.addresses
            after = page.next
            pages += 1
        } while after != nil && pages < 10
        c.expect(addresses == rows.map(\.address).filter { $0 != "x3@gmail.com" && $0 != "x5@gmail.com" }, "the recipients in order: \(addresses)")
        let leased = try await lease(store, limit: 1, now: t0)
        c.expect(leased.first?.variables == Array("{\"n\":0}".utf8) && leased.first?.contentID == record.contentID, "a row's variables: \(leased)")
        let events = try await store.countEvents(kind: .accepted, contentID: record.contentID)
        c.expect(events == 8, "an accepted event per queued row: \(events)")
        let leasedRecord = try c.require(leased.first, "a leased row")
        try await store.record([Outcome(id: leasedRecord.id, state: .delivered, reply: ok, via: .shared, epoch: leasedRecord.epoch)], events: [], now: t0)
        let counts = try await store.campaignCounts(contentID: record.contentID)
        c.expect(Set(counts.counts) == [StateCount(state: .queued, provider: .gmail, count: 7), StateCount(state: .delivered, provider: .gmail, count: 1)],
                 "the campaign's counts: \(counts.counts)")
        c.expect(counts.spilled == 1 && counts.transientFailures == 0, "one delivered through the shared pool: \(counts)")
        let contents = try await store.contents(ids: [record.contentID])
        c.expect(contents[record.contentID]?.isTemplate == true && contents[record.contentID]?.campaign == "c1", "the template content")
    }
}
