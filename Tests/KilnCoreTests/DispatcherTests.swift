import KilnCore
import Testing

/// The dispatcher's decisions, with plain values and a clock moved by hand.
@Suite struct DispatcherTests {
    let t0 = Timestamp(nanoseconds: 1_000_000_000_000)

    /// A pool of two IPs; Gmail takes 60 an hour from a cold IP (a token a minute).
    func dispatcher(spillover: Router.Spillover = .never, scaling: Router.Scaling = .fixed, ips: [String] = ["127.0.0.2", "127.0.0.3"]) -> Dispatcher {
        let overrides = ["gmail": ProviderProfile.Override(coldHourly: 60, warmHourly: 6_000, throttleBackoffSeconds: 900)]
        let router = Router(pools: [.init(name: "p", ips: ips, minIPs: 1, scaling: scaling, spillover: spillover)],
                            sharedPool: spillover == .never ? nil : .init(), now: t0,
                            profiles: { ProviderProfile.resolve($0, overrides: overrides) })
        return Dispatcher(router: router, retry: RetryPolicy(jitter: 0, maxMessageAge: .seconds(3600)))
    }

    @Test func aDueMessageGoesFromAnIPUntilTheBucketsAreEmptyThenWaitsForTheRefill() {
        var d = dispatcher()
        let first = d.decide(provider: .gmail, pool: "p", createdAt: t0, now: t0)
        let second = d.decide(provider: .gmail, pool: "p", createdAt: t0, now: t0)
        #expect(Set([first, second]) == [.send(.dedicated(ip: "127.0.0.2")), .send(.dedicated(ip: "127.0.0.3"))])
        guard case .deferral(let until) = d.decide(provider: .gmail, pool: "p", createdAt: t0, now: t0) else {
            Issue.record("a third message had a token")
            return
        }
        #expect(until > t0 && until <= t0 + .seconds(60))
    }

    @Test func withSpilloverTheExcessWaitsForTheRefillAWhileThenGoesToTheSharedRelay() {
        var d = dispatcher(spillover: .always)
        _ = d.decide(provider: .gmail, pool: "p", createdAt: t0, now: t0)
        _ = d.decide(provider: .gmail, pool: "p", createdAt: t0, now: t0)
        // The next token comes within 3 minutes (20 an hour an IP): a message just
        // submitted waits for it (`spillWaitSeconds`, 15 minutes by default); one that has waited that long spills.
        guard case .deferral(let until) = d.decide(provider: .gmail, pool: "p", createdAt: t0, now: t0) else {
            Issue.record("a young message did not wait for the refill")
            return
        }
        #expect(until > t0 && until <= t0 + .seconds(180))
        #expect(d.decide(provider: .gmail, pool: "p", createdAt: t0 - .seconds(900), now: t0) == .send(.shared))
    }

    /// Under a cluster-wide relay limit the node spills only what its slice allows; an
    /// empty slice defers instead, and a new slice lets spilling go on.
    @Test func aNodesSliceOfTheRelaysLimitBoundsItsSpills() {
        var d = dispatcher(spillover: .always)
        _ = d.decide(provider: .gmail, pool: "p", createdAt: t0, now: t0)
        _ = d.decide(provider: .gmail, pool: "p", createdAt: t0, now: t0)
        d.setSharedAllowance(2)
        let old = t0 - .seconds(900)
        let routes = (0..<5).map { _ in d.decide(provider: .gmail, pool: "p", createdAt: old, now: t0) }
        #expect(routes.filter { $0 == .send(.shared) }.count == 2, "\(routes)")
        #expect(routes.suffix(3).allSatisfy { if case .deferral = $0 { true } else { false } }, "\(routes)")
        #expect(d.router.sharedAllowance == 0)
        d.setSharedAllowance(1)
        #expect(d.decide(provider: .gmail, pool: "p", createdAt: old, now: t0) == .send(.shared))
    }

    /// 23 messages in the first 23 minutes of an hour to one cold IP (20 an hour, a token
    /// every 3 minutes, a burst of one): spilled at once, all but 8 go to the relay and the
    /// hour uses 40 % of its allowance (not busy: the pair never warms up); waiting up to
    /// `spillWaitSeconds` for the pacing, 13 go from the IP (65 %, a busy hour).
    @Test func aBurstIsPacedOutAtTheAllowanceWithinTheSpillWait() {
        func dedicated(spillWait: Duration) -> Int {
            let router = Router(pools: [.init(name: "p", ips: ["127.0.0.2"], scaling: .fixed, spillover: .whileWarming,
                                              spillWaitSeconds: Double(spillWait.components.seconds))],
                                sharedPool: .init(), now: t0,
                                profiles: { ProviderProfile.resolve($0, overrides: [:]) })
            var d = Dispatcher(router: router, retry: RetryPolicy())
            var queue = (0..<23).map { t0 + .seconds(60 * $0) }
            var sent = 0
            var now = t0
            var next = t0
            while let head = queue.first, now < t0 + .seconds(3600) {
                if head <= now, next <= now {
                    switch d.decide(provider: .gmail, pool: "p", createdAt: head, now: now) {
                    case .send(.dedicated): sent += 1; queue.removeFirst()
                    case .send(.shared), .expire: queue.removeFirst()
                    case .deferral(let until): next = until
                    }
                    continue
                }
                now = now + .seconds(1)
            }
            return sent
        }
        #expect(dedicated(spillWait: .zero) == 8)
        #expect(dedicated(spillWait: .seconds(900)) == 13)
    }

    @Test func aMessagePastHalfItsMaximumAgeGoesThroughTheRelayWhenThePoolSpillsAtAll() {
        // A warm pool (no spill while warming) with tokens left: a young message takes a
        // token, one past half its life (30 of 60 minutes) goes through the relay.
        func warm(_ spillover: Router.Spillover) -> Dispatcher {
            var router = dispatcher(spillover: spillover).router
            router.restore(["127.0.0.2", "127.0.0.3"].map { PairSnapshot(ip: $0, provider: .gmail, warmup: WarmupTracker(level: 1, now: t0)) }, now: t0)
            return Dispatcher(router: router, retry: RetryPolicy(jitter: 0, maxMessageAge: .seconds(3600)))
        }
        var d = warm(.whileWarming)
        let now = t0 + .seconds(1800)
        guard case .send(.dedicated) = d.decide(provider: .gmail, pool: "p", createdAt: now - .seconds(1799), now: now) else {
            Issue.record("a young message did not take a token of a warm pool")
            return
        }
        #expect(d.decide(provider: .gmail, pool: "p", createdAt: now - .seconds(1800), now: now) == .send(.shared))
        // A message deferred for capacity comes back when it would spill, not after.
        var router = dispatcher(spillover: .whileWarming).router
        router.restore(["127.0.0.2", "127.0.0.3"].map {
            PairSnapshot(ip: $0, provider: .gmail, warmup: WarmupTracker(level: 1, now: t0), suspendedUntil: now + .seconds(3600))
        }, now: t0)
        var resting = Dispatcher(router: router, retry: RetryPolicy(jitter: 0, maxMessageAge: .seconds(3600)))
        #expect(resting.decide(provider: .gmail, pool: "p", createdAt: now - .seconds(1000), now: now) == .deferral(until: now + .seconds(800)))
        #expect(resting.decide(provider: .gmail, pool: "p", createdAt: now - .seconds(1800), now: now) == .send(.shared))
        // Without spill-over it takes a token as before.
        var never = warm(.never)
        guard case .send(.dedicated) = never.decide(provider: .gmail, pool: "p", createdAt: now - .seconds(1800), now: now) else {
            Issue.record("an old message did not take a token of a pool that never spills")
            return
        }
    }

    @Test func aMessagePastItsMaximumAgeExpiresInsteadOfBeingRouted() {
        var d = dispatcher()
        #expect(d.decide(provider: .gmail, pool: "p", createdAt: t0, now: t0 + .seconds(3600)) == .expire)
        // Its token was not taken: the next message still gets one.
        #expect(d.decide(provider: .gmail, pool: "p", createdAt: t0 + .seconds(3600), now: t0 + .seconds(3600)) != .expire)
    }

    @Test func deferralsInABatchQueueOneTokenIntervalApartAndStopLeasingTheProvider() {
        var d = dispatcher()
        d.beginBatch()
        let refill = t0 + .seconds(60)
        let times = (0..<3).map { _ in d.deferral(provider: .gmail, pool: "p", until: refill, now: t0) }
        // Two IPs at 60 an hour: 120 an hour, a token every 30 s.
        #expect(times == [refill, refill + .seconds(30), refill + .seconds(60)])
        #expect(d.exhaustedProviders(now: t0) == [.gmail: refill])
        #expect(d.exhaustedProviders(now: refill).isEmpty)
        d.beginBatch()
        #expect(d.deferral(provider: .gmail, pool: "p", until: refill, now: t0) == refill)
    }

    @Test func aDeferralInABatchNeverTakesAMessagePastItsSpillWait() {
        // A pool that spills, two IPs at 60 an hour: a token every 30 s of the pool.
        var d = dispatcher(spillover: .always)
        d.beginBatch()
        let refill = t0 + .seconds(60)
        let created = t0 - .seconds(600)
        let times = (0..<12).map { _ in d.deferral(provider: .gmail, pool: "p", until: refill, now: t0, createdAt: created) }
        // Spaced 30 s apart until the spill wait ends (15 minutes after submit), then no later.
        #expect(times[0] == refill && times[1] == refill + .seconds(30))
        #expect(times.allSatisfy { $0 <= created + .seconds(900) })
        #expect(times[11] == created + .seconds(900))
        // A pool that never spills keeps the plain spacing.
        var never = dispatcher()
        never.beginBatch()
        let plain = (0..<12).map { _ in never.deferral(provider: .gmail, pool: "p", until: refill, now: t0, createdAt: created) }
        #expect(plain[11] > created + .seconds(900))
    }

    @Test(arguments: [
        (ProviderReplies.gmailThrottle, DeliveryEvent.Kind.throttle, true),
        (ProviderReplies.gmailBlock, .block, true),
        (ProviderReplies.greylisted, .deliveryDelay, false),
        (ProviderReplies.gmailUserUnknown, .bounce, false),
        ("250 2.0.0 OK", .delivery, false),
    ])
    func aReplyDecidesTheEventAndWhetherTheLaneIsWithdrawn(reply: String, event: DeliveryEvent.Kind, withdraws: Bool) throws {
        var d = dispatcher()
        var rng = SystemRandomNumberGenerator()
        let classification = try #require(SMTPReply(parsing: reply)).classification
        let completion = d.complete(provider: .gmail, path: .dedicated(ip: "127.0.0.2"), classification: classification,
                                    createdAt: t0, failedAttempts: 0, now: t0, using: &rng)
        #expect(completion.event == event)
        #expect(Dispatcher.withdrawsLane(after: classification) == withdraws)
    }

    @Test func aThrottleRestsThatPairAndTheMessageComesBackAtOnceInItsPlace() throws {
        var d = dispatcher()
        var rng = SystemRandomNumberGenerator()
        let throttle = try #require(SMTPReply(parsing: ProviderReplies.gmailThrottle)).classification
        let completion = d.complete(provider: .gmail, path: .dedicated(ip: "127.0.0.2"), classification: throttle,
                                    createdAt: t0 - .seconds(600), failedAttempts: 0, now: t0, using: &rng)
        #expect(completion.resumeAt == t0 + .seconds(900))
        #expect(completion.disposition == .retry(at: t0 - .seconds(600)))
        // Only the other IP sends to Gmail now.
        for _ in 0..<3 {
            if case .send(let path) = d.decide(provider: .gmail, pool: "p", createdAt: t0, now: t0) { #expect(path == .dedicated(ip: "127.0.0.3")) }
        }
    }

    @Test func aHardBounceSuppressesAndALocalReplyBlamesNoIP() throws {
        var d = dispatcher()
        var rng = SystemRandomNumberGenerator()
        let unknown = try #require(SMTPReply(parsing: ProviderReplies.gmailUserUnknown)).classification
        let bounce = d.complete(provider: .gmail, path: .shared, classification: unknown, createdAt: t0, failedAttempts: 2, now: t0, using: &rng)
        #expect(bounce.disposition == .bounced(suppressRecipient: true))
        let block = try #require(SMTPReply(parsing: ProviderReplies.gmailBlock)).classification
        let local = d.complete(provider: .gmail, path: nil, classification: block, createdAt: t0, failedAttempts: 0, now: t0, using: &rng)
        #expect(local.resumeAt == nil)
        #expect(d.router.suspension(ip: "127.0.0.2", provider: .gmail, now: t0) == nil)
    }

    @Test func poolsArePlannedOnceAnHourFromTheBacklog() {
        var d = dispatcher(scaling: .managed, ips: ["127.0.0.2", "127.0.0.3", "127.0.0.4"])
        #expect(d.router.activeIPs(pool: "p").count == 1)
        // A day's backlog far beyond one IP: the pool takes more.
        let plans = d.planPools(backlog: [.gmail: 1_000_000], now: t0)
        #expect(plans.first?.add.isEmpty == false)
        let grown = d.router.activeIPs(pool: "p").count
        #expect(grown > 1)
        #expect(d.planPools(backlog: [.gmail: 1_000_000], now: t0 + .seconds(1800)).isEmpty)
        #expect(!d.isPlanDue(now: t0 + .seconds(3599)) && d.isPlanDue(now: t0 + .seconds(3600)))
    }

    /// A node of a cluster scales its part of a pool for its share of the cluster's
    /// backlog (its active IPs' part of all of them), and never past what the pool's
    /// `maxIPs` leaves after the other nodes' active IPs.
    @Test func aNodePlansItsShareOfTheClustersBacklogWithinThePoolsCap() {
        let ips = ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
        // Three warm IPs' worth a day: Gmail's 6,000/h at the planner's 80 % is 4,800/h an IP.
        let backlog: [MailboxProvider: Int] = [.gmail: 3 * 4_800 * 24]
        var alone = dispatcher(scaling: .managed, ips: ips)
        _ = alone.planPools(backlog: backlog, now: t0)
        #expect(alone.router.activeIPs(pool: "p").count == 3)
        // One IP active on another node: this node's one IP is half of the pool, so it
        // plans for half of the backlog.
        var half = dispatcher(scaling: .managed, ips: ips)
        _ = half.planPools(backlog: backlog, peers: ["p": PoolPeers(activeElsewhere: 1, clusterMaxIPs: 6)], now: t0)
        #expect(half.router.activeIPs(pool: "p").count == 2)
        // Three active elsewhere of a pool capped at four: nothing left to add here.
        var capped = dispatcher(scaling: .managed, ips: ips)
        let plans = capped.planPools(backlog: backlog, peers: ["p": PoolPeers(activeElsewhere: 3, clusterMaxIPs: 4)], now: t0)
        #expect(plans.isEmpty)
        #expect(capped.router.activeIPs(pool: "p").count == 1)
        // The cap never releases what a node has.
        #expect(PoolPeers(activeElsewhere: 5, clusterMaxIPs: 4).maxIPs(node: 3, active: 2) == 2)
        #expect(PoolPeers(activeElsewhere: 0, clusterMaxIPs: 4).share(active: 2) == 1)
    }
}

/// Limits lowered by what providers say: a session limit halves the provider's messages
/// per connection, a connection limit its connections; once a minute at most, never
/// below one, and never for the shared relay or a rate.
@Suite struct LoweredLimitTests {
    let t0 = Timestamp(nanoseconds: 1_000_000_000_000)

    func dispatcher() -> Dispatcher {
        let router = Router(pools: [.init(name: "p", ips: ["127.0.0.2"], scaling: .fixed, spillover: .never)], now: t0,
                            profiles: { ProviderProfile.resolve($0, overrides: ["gmail": .init(maxConnections: 8, messagesPerConnection: 40)]) })
        return Dispatcher(router: router, retry: RetryPolicy(jitter: 0, maxMessageAge: .seconds(3600)))
    }

    func classification(_ reply: String) throws -> ReplyClassification {
        try #require(SMTPReply(parsing: reply)).classification(provider: .gmail)
    }

    @Test func aSessionLimitHalvesMessagesPerConnectionOnceAMinute() throws {
        var d = dispatcher()
        var rng = SystemRandomNumberGenerator()
        let limit = try classification("452 4.5.3 Your message has too many recipients.")
        #expect(limit.scope == .session)
        #expect(d.messagesPerConnection(for: .gmail) == 40)
        let completion = d.complete(provider: .gmail, path: .dedicated(ip: "127.0.0.2"), classification: limit, createdAt: t0, failedAttempts: 0,
                                    now: t0, using: &rng)
        guard case .retry = completion.disposition else { Issue.record("a session limit bounced"); return }
        #expect(d.messagesPerConnection(for: .gmail) == 20)
        _ = d.complete(provider: .gmail, path: .dedicated(ip: "127.0.0.2"), classification: limit, createdAt: t0, failedAttempts: 0,
                       now: t0 + .seconds(30), using: &rng)
        #expect(d.messagesPerConnection(for: .gmail) == 20, "a burst of replies to one limit lowers it once")
        for minute in 1...10 {
            _ = d.complete(provider: .gmail, path: .dedicated(ip: "127.0.0.2"), classification: limit, createdAt: t0, failedAttempts: 0,
                           now: t0 + .seconds(Int64(60 * minute)), using: &rng)
        }
        #expect(d.messagesPerConnection(for: .gmail) == 1)
        // The rate is not touched: the pair does not rest.
        #expect(d.router.suspension(ip: "127.0.0.2", provider: .gmail, now: t0) == nil)
        #expect(d.connections(for: .gmail, configured: 8) == 8)
    }

    @Test func aConnectionLimitHalvesConnectionsAndLeavesTheRate() throws {
        var d = dispatcher()
        var rng = SystemRandomNumberGenerator()
        let limit = try classification("421 4.7.0 mx.example.com Error: too many connections from 192.0.2.10")
        _ = d.key(for: .gmail)
        let before = try #require(d.router.allowance(ip: "127.0.0.2", provider: .gmail, now: t0))
        _ = d.complete(provider: .gmail, path: .dedicated(ip: "127.0.0.2"), classification: limit, createdAt: t0, failedAttempts: 0, now: t0, using: &rng)
        #expect(d.connections(for: .gmail, configured: 8) == 4)
        #expect(d.connections(for: .gmail, configured: 2) == 2)
        #expect(d.router.allowance(ip: "127.0.0.2", provider: .gmail, now: t0) == before)
        #expect(d.router.suspension(ip: "127.0.0.2", provider: .gmail, now: t0) == nil)
        #expect(d.messagesPerConnection(for: .gmail) == 40)
    }

    @Test func theSharedRelaysRepliesLowerNothing() throws {
        var d = dispatcher()
        var rng = SystemRandomNumberGenerator()
        _ = d.complete(provider: .gmail, path: .shared, classification: try classification("452 4.5.3 Your message has too many recipients."),
                       createdAt: t0, failedAttempts: 0, now: t0, using: &rng)
        #expect(d.messagesPerConnection(for: .gmail) == 40)
    }
}
