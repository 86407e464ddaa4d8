import KilnCore
import KilnStore

/// The queue: submitting, leasing in order, recording outcomes and reading them back.
extension StoreContract {
    static let queue: [Check] = [
        Check("queued messages are leased, recorded and read back", queueLeaseRecordAndReadBack),
        Check("leasing takes only due messages, each once", leasingTakesOnlyDueMessagesOnce),
        Check("concurrent submits each get their own ids", concurrentSubmitsGetTheirOwnIDs),
        Check("a later transactional message is leased before older bulk", transactionalMailIsLeasedFirst),
        Check("priority respects due times, pauses and excluded providers", priorityRespectsDueTimesPausesAndExclusions),
        Check("the receiving host is kept with the message and its events", theReceivingHostIsKept),
        Check("pauses are shared by every handle on the store", pausesAreShared),
        Check("the warm-up state saved is the state loaded", warmUpStateRoundTrips),
    ]

    static func queueLeaseRecordAndReadBack(_ c: Context) async throws {
        let store = try await c.open()
        let t0 = c.t0
        let ids = try await store.enqueue([submission(["a@gmail.com", "b@yahoo.com", "c@gmail.com"], suppressed: ["c@gmail.com"]),
                                           submission(["d@outlook.com"], set: "other")], now: t0)
        c.expect(ids.map(\.count) == [3, 1], "one id per recipient: \(ids)")
        c.expect(Set(ids.flatMap { $0 }).count == 4, "the ids should be distinct: \(ids)")
        let counts = Set(try await store.counts())
        c.expect(counts == [StateCount(state: .queued, provider: .gmail, count: 1), StateCount(state: .queued, provider: .yahoo, count: 1),
                            StateCount(state: .queued, provider: .microsoft, count: 1), StateCount(state: .suppressed, provider: .gmail, count: 1)],
                 "counts by state and provider: \(counts)")
        let leased = try await lease(store, now: t0 + .seconds(1))
        c.expect(leased.map(\.recipient) == ["a@gmail.com", "b@yahoo.com", "d@outlook.com"], "leased in id order, not the suppressed: \(leased)")
        // Nothing left to lease: the suppressed one is final, the rest are leased.
        let none = try await lease(store, owner: "n/2", now: t0 + .seconds(1))
        c.expect(none.isEmpty, "a leased message is not leased again: \(none)")
        let contents = try await store.contents(ids: Array(Set(leased.map(\.contentID))))
        c.expect(contents.count == 2, "two contents: \(contents.keys)")
        c.expect(contents[leased[0].contentID]?.configurationSet == "bulk", "the content's set")
        c.expect(contents[leased[0].contentID]?.data == Array("Subject: hi\r\n\r\nbody\r\n".utf8), "the content's data")
        c.expect(contents.values.allSatisfy { $0.envelopeDomain == "bounce.example.com" && $0.fromDomain == "example.com" }, "the contents' domains")

        let retry = t0 + .seconds(600)
        try await store.record([
            Outcome(id: leased[0].id, state: .delivered, reply: ok, via: .dedicated(ip: "127.0.0.2")),
            Outcome(id: leased[1].id, state: .bounced, reply: unknown, via: .dedicated(ip: "127.0.0.3"), suppressRecipient: "B@yahoo.com"),
            Outcome(id: leased[2].id, state: .deferred, nextAttemptAt: retry, reply: later, via: .shared),
        ], events: [DeliveryEvent(kind: .delivery, time: t0, messageID: leased[0].id, recipient: "a@gmail.com", provider: .gmail,
                                  via: .dedicated(ip: "127.0.0.2"), reply: ok)],
           now: t0 + .seconds(2))
        let records = try await store.messages(ids: ids.flatMap { $0 })
        c.expect(records.map(\.state) == [.delivered, .bounced, .suppressed, .deferred], "states: \(records.map(\.state))")
        c.expect(records.first?.via == .dedicated(ip: "127.0.0.2"), "how the delivery left: \(String(describing: records.first?.via))")
        c.expect(records.count == 4 && records[1].lastReply == unknown, "the bounce's reply")
        c.expect(records.count == 4 && records[3].nextAttemptAt == retry && records[3].attempts == 1 && records[3].via == .shared,
                 "the deferral's next attempt, attempts and path: \(records.last.map { "\($0)" } ?? "none")")
        // A hard bounce's address is suppressed account-wide, in lower case, whatever case it came in.
        let suppressed = try await store.suppression(of: "b@YAHOO.com")
        c.expect(suppressed?.reason == .bounce && suppressed?.address == "b@yahoo.com" && suppressed?.scope == nil,
                 "the bounce suppresses b@yahoo.com account-wide: \(String(describing: suppressed))")
        c.expect(suppressed?.source == "bounce: \(unknown.description)", "the suppression names its reply: \(String(describing: suppressed?.source))")
        // The enqueue stored an accepted event per queued message (not the suppressed one).
        let events = try await store.events(after: 0, limit: 100)
        c.expect(events.map(\.event.kind) == [.accepted, .accepted, .accepted, .delivery], "events: \(events.map(\.event.kind))")
        c.expect(events.prefix(3).compactMap(\.event.recipient).sorted() == ["a@gmail.com", "b@yahoo.com", "d@outlook.com"], "the accepted events' recipients")
        c.expect(events.count == 4 && events[3].event.reply == ok && events[3].event.via == .dedicated(ip: "127.0.0.2"), "the delivery event as given")
        c.expect(events.map(\.id) == events.map(\.id).sorted(), "events oldest first")
        let hours = try await store.reputationHours(now: t0 + .seconds(2), hours: 24)
        c.expect(hours["bulk"]?.first?.sent == 2 && hours["bulk"]?.first?.bounces == 1, "the set's reputation: 2 sent, 1 bounce: \(hours)")
        // The deferred one comes due at its retry time.
        let due = try await store.nextDue(pausedSets: [], excluding: [])
        c.expect(due == retry, "next due: \(String(describing: due))")
        let dueOutsideOther = try await store.nextDue(pausedSets: ["other"], excluding: [])
        c.expect(dueOutsideOther == nil, "nothing due outside the paused set: \(String(describing: dueOutsideOther))")
        let dueOutsideOutlook = try await store.nextDue(pausedSets: [], excluding: [.microsoft])
        c.expect(dueOutsideOutlook == nil, "nothing due outside the excluded provider: \(String(describing: dueOutsideOutlook))")
    }

    static func leasingTakesOnlyDueMessagesOnce(_ c: Context) async throws {
        let store = try await c.open()
        let t0 = c.t0
        let ids = try await store.enqueue([submission(["a@gmail.com", "b@gmail.com", "c@gmail.com"])], now: t0)[0]
        let first = try await lease(store, limit: 2, now: t0)
        c.expect(first.map(\.id) == Array(ids.prefix(2)), "the first two, oldest first: \(first.map(\.id))")
        c.expect(first.allSatisfy { $0.attempts == 0 && $0.createdAt == t0 && $0.provider == .gmail }, "a first lease: no attempt yet")
        let second = try await lease(store, now: t0)
        c.expect(second.map(\.id) == [ids[2]], "the third: \(second.map(\.id))")
        let third = try await lease(store, now: t0)
        c.expect(third.isEmpty, "nothing left: \(third.map(\.id))")
        // A deferral makes the message due later, not now.
        try await store.record([Outcome(id: ids[0], state: .deferred, nextAttemptAt: t0 + .seconds(300), reply: later)], events: [], now: t0)
        let early = try await lease(store, now: t0 + .seconds(299))
        c.expect(early.isEmpty, "a deferred message is not due before its time: \(early.map(\.id))")
        let again = try await lease(store, now: t0 + .seconds(300))
        c.expect(again.map(\.id) == [ids[0]] && again.first?.attempts == 1, "due at its time, with one attempt made: \(again)")
        // A capacity deferral does not count as an attempt.
        let lease = try c.require(again.first, "the deferred message leased again")
        try await store.record([Outcome(id: ids[0], state: .deferred, nextAttemptAt: t0 + .seconds(400), countsAsAttempt: false, epoch: lease.epoch)],
                               events: [], now: t0 + .seconds(300))
        let record = try await store.messages(ids: [ids[0]]).first
        c.expect(record?.attempts == 1 && record?.lastReply == later, "still one attempt, the last reply kept: \(String(describing: record))")
    }

    static func concurrentSubmitsGetTheirOwnIDs(_ c: Context) async throws {
        let store = try await c.open()
        let t0 = c.t0
        let results = try await withThrowingTaskGroup(of: [MessageID].self) { group in
            for i in 0..<200 {
                group.addTask { try await store.enqueue([submission(["user\(i)@gmail.com"])], now: t0)[0] }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        c.expect(results.count == 200 && results.allSatisfy { $0.count == 1 }, "one id per submit")
        c.expect(Set(results.flatMap { $0 }).count == 200, "distinct ids")
        let records = try await store.messages(ids: results.flatMap { $0 })
        c.expect(Set(records.map(\.recipient)).count == 200, "each its own recipient: \(Set(records.map(\.recipient)).count)")
        c.expect(zip(results.flatMap { $0 }, records).allSatisfy { $0 == $1.id }, "messages(ids:) in the order asked")
    }

    static func transactionalMailIsLeasedFirst(_ c: Context) async throws {
        let store = try await c.open()
        let t0 = c.t0
        let bulk = try await store.enqueue([submission((0..<50).map { "b\($0)@gmail.com" })], now: t0)[0]
        let tx = try await store.enqueue([submission(["reset@gmail.com", "reset2@gmail.com"], set: "tx", priority: 1)], now: t0 + .seconds(60))[0]
        _ = try await store.enqueue([submission(["p@gmail.com"], set: "paused-tx", priority: 1)], now: t0 + .seconds(60))
        let first = try await lease(store, limit: 3, now: t0 + .seconds(61), pausedSets: ["paused-tx"])
        c.expect(first.map(\.id) == tx + [bulk[0]], "transactional first, then the oldest bulk: \(first.map(\.id))")
        c.expect(first.map(\.priority) == [1, 1, 0], "priorities: \(first.map(\.priority))")
        // The bulk rest keeps its oldest-first order.
        let rest = try await lease(store, limit: 1000, now: t0 + .seconds(61), pausedSets: ["paused-tx"])
        c.expect(rest.map(\.id) == Array(bulk.dropFirst()), "the bulk rest in order: \(rest.map(\.id))")
    }

    static func priorityRespectsDueTimesPausesAndExclusions(_ c: Context) async throws {
        let store = try await c.open()
        let t0 = c.t0
        _ = try await store.enqueue([submission(["b@yahoo.com"])], now: t0)
        let ids = try await store.enqueue([submission(["tx@yahoo.com"], set: "tx", priority: 1), submission(["p@gmail.com"], set: "paused-tx", priority: 1)],
                                          now: t0)
        // Yahoo cannot send now and the set is paused: nothing of either is leased.
        let none = try await lease(store, now: t0, excluding: [.yahoo], pausedSets: ["paused-tx"])
        c.expect(none.isEmpty, "nothing of an excluded provider or a paused set: \(none.map(\.recipient))")
        // A deferred transactional message waits for its next attempt like any other.
        let leased = try await lease(store, limit: 1, now: t0)
        c.expect(leased.map(\.id) == [ids[0][0]], "the first transactional one: \(leased.map(\.recipient))")
        try await store.record([Outcome(id: ids[0][0], state: .deferred, nextAttemptAt: t0 + .seconds(300))], events: [], now: t0)
        let next = try await lease(store, limit: 1, now: t0 + .seconds(1))
        c.expect(next.map(\.id) == [ids[1][0]], "the other transactional one: \(next.map(\.recipient))")
        let bulk = try await lease(store, limit: 5, now: t0 + .seconds(1))
        c.expect(bulk.map(\.priority) == [0], "then the bulk one: \(bulk.map(\.recipient))")
        let later = try await lease(store, limit: 5, now: t0 + .seconds(300))
        c.expect(later.map(\.id) == [ids[0][0]], "the deferred one at its time: \(later.map(\.recipient))")
    }

    static func theReceivingHostIsKept(_ c: Context) async throws {
        let store = try await c.open()
        let t0 = c.t0
        let ids = try await store.enqueue([submission(["reset@gmail.com", "x@gmail.com", "y@yahoo.com"])], now: t0)[0]
        _ = try await lease(store, now: t0)
        func delivery(_ id: MessageID, _ recipient: String, provider: MailboxProvider, host: String) -> (Outcome, DeliveryEvent) {
            var event = DeliveryEvent(kind: .delivery, time: t0 + .seconds(2), messageID: id, recipient: recipient, provider: provider,
                                      via: .dedicated(ip: "127.0.0.2"), reply: ok)
            event.host = host
            var outcome = Outcome(id: id, state: .delivered, reply: ok, via: .dedicated(ip: "127.0.0.2"))
            outcome.host = host
            return (outcome, event)
        }
        let mx2 = "smtp://mx2.example.com:25 (192.0.2.7)"
        let mx1 = "smtp://mx1.example.com:25 (192.0.2.6)"
        let yahoo = "smtp://mta5.am0.yahoodns.net:25 (192.0.2.9)"
        let done = [delivery(ids[0], "reset@gmail.com", provider: .gmail, host: mx2), delivery(ids[1], "x@gmail.com", provider: .gmail, host: mx2),
                    delivery(ids[2], "y@yahoo.com", provider: .yahoo, host: yahoo)]
        try await store.record(done.map(\.0), events: done.map(\.1), now: t0 + .seconds(2))
        let host = try await store.messages(ids: [ids[0]]).first?.host
        c.expect(host == mx2, "the message's host: \(String(describing: host))")
        let last = try await store.events(after: 0, limit: 100).last?.event.host
        c.expect(last == yahoo, "the event's host: \(String(describing: last))")
        try await store.append(events: [DeliveryEvent(kind: .delivery, time: t0 + .seconds(3), recipient: "z@gmail.com", provider: .gmail, reply: ok, host: mx1)])
        let hosts = try await store.receivingHosts(deliveries: 100)
        c.expect(hosts == [HostCount(provider: .gmail, host: mx2, deliveries: 2), HostCount(provider: .gmail, host: mx1, deliveries: 1),
                           HostCount(provider: .yahoo, host: yahoo, deliveries: 1)], "hosts by provider, most first: \(hosts)")
        // Only the last deliveries count.
        let recent = try await store.receivingHosts(deliveries: 1)
        c.expect(recent == [HostCount(provider: .gmail, host: mx1, deliveries: 1)], "the last delivery's host: \(recent)")
    }

    static func pausesAreShared(_ c: Context) async throws {
        let one = try await c.open()
        let two = try await c.open()
        try await one.setPaused(true, scope: nil)
        try await one.setPaused(true, scope: "bulk")
        try await one.setPaused(true, scope: PausedScope.tenant("acme"))
        let seen = try await two.pausedScopes()
        c.expect(seen == ["*", "bulk", "tenant:acme"], "the other handle sees the pauses: \(seen)")
        try await two.setPaused(false, scope: nil)
        try await two.setPaused(false, scope: "never-paused")
        let left = try await one.pausedScopes()
        c.expect(left == ["bulk", "tenant:acme"], "the resume is seen too: \(left)")
    }

    static func warmUpStateRoundTrips(_ c: Context) async throws {
        let store = try await c.open()
        let t0 = c.t0
        let empty = try await store.loadShaping()
        c.expect(empty == nil || empty?.pairs.isEmpty == true, "a new store has no warm-up state: \(String(describing: empty?.pairs))")
        let warm = WarmupTracker(level: 0.5, now: t0)
        let cold = WarmupTracker(now: t0)
        let saved = SavedShaping(pairs: [PairSnapshot(ip: "127.0.0.2", provider: .gmail, warmup: warm, suspendedUntil: t0 + .seconds(3600)),
                                         PairSnapshot(ip: "127.0.0.3", provider: .yahoo, warmup: cold)],
                                 activePools: ["p": ["127.0.0.2", "127.0.0.3"]], paces: [ProviderPace(provider: .gmail, perDay: 5000, ceilingLevel: 0.8)])
        try await store.saveShaping(saved)
        let loaded = try c.require(try await c.open().loadShaping(), "the saved state loads")
        c.expect(Set(loaded.pairs) == Set(saved.pairs), "the pairs come back: \(loaded.pairs)")
        c.expect(loaded.activePools["p"].map(Set.init) == ["127.0.0.2", "127.0.0.3"], "the active IPs: \(loaded.activePools)")
        c.expect(loaded.paces?.map(\.provider) == [.gmail] && loaded.paces?.first?.perDay == 5000, "the paces: \(String(describing: loaded.paces))")
        // Saving again replaces the state of the same IPs.
        try await store.saveShaping(SavedShaping(pairs: [PairSnapshot(ip: "127.0.0.2", provider: .gmail, warmup: WarmupTracker(level: 0.75, now: t0)),
                                                         PairSnapshot(ip: "127.0.0.3", provider: .yahoo, warmup: cold)],
                                                 activePools: ["p": ["127.0.0.2"]]))
        let again = try c.require(try await store.loadShaping(), "the state saved again loads")
        c.expect(again.pairs.first { $0.ip == "127.0.0.2" }?.warmup.level == 0.75, "the newer level: \(again.pairs)")
        c.expect(again.pairs.first { $0.ip == "127.0.0.2" }?.suspendedUntil == nil, "the suspension lifted: \(again.pairs)")
        c.expect(again.activePools["p"] == ["127.0.0.2"], "the active IPs now: \(again.activePools)")
    }
}
