import KilnCore
import Testing

@Suite struct TokenBucketTests {
    let t0 = Timestamp(nanoseconds: 5_000_000_000_000)

    @Test(arguments: [1 as UInt64, 2, 3, 4, 5])
    func noHourEverSeesMoreThanTheAllowancePlusTheBurst(seed: UInt64) {
        var rng = SeededGenerator(state: seed)
        let hourly = Double.random(in: 10...5000, using: &rng)
        let burst = Int.random(in: 1...50, using: &rng)
        var bucket = TokenBucket(hourly: hourly, burst: burst)
        var taken: [Int64] = []
        var now = t0
        for _ in 0..<20_000 {
            now = now + .nanoseconds(Int64.random(in: 0...Int64(3.6e12 / hourly * 2), using: &rng))
            if bucket.take(now: now) { taken.append(now.nanoseconds) }
        }
        // Slide a one-hour window over every take.
        var start = 0
        var worst = 0
        for end in taken.indices {
            while taken[end] - taken[start] >= 3_600_000_000_000 { start += 1 }
            worst = max(worst, end - start + 1)
        }
        #expect(Double(worst) <= hourly + Double(burst) + 1)
        #expect(taken.count > 0)
    }

    @Test func theBurstIsBoundedAndTheNextTokenIsAnnounced() {
        var bucket = TokenBucket(hourly: 3600, burst: 5)  // one a second
        var taken = 0
        for _ in 0..<10 where bucket.take(now: t0) { taken += 1 }
        #expect(taken == 5)
        #expect(bucket.nextAvailable(now: t0) == t0 + .seconds(1))
        let early = bucket.take(now: t0 + .milliseconds(999))
        let onTime = bucket.take(now: t0 + .seconds(1))
        #expect(!early && onTime)
    }

    @Test func aLowerRateIsFeltAtOnce() {
        var bucket = TokenBucket(hourly: 3600, burst: 1)
        let first = bucket.take(now: t0)
        #expect(first)
        bucket.setRate(hourly: 360, burst: 1, now: t0)  // one every ten seconds
        let tooSoon = bucket.take(now: t0 + .seconds(2))
        #expect(!tooSoon)
        #expect(bucket.nextAvailable(now: t0) == t0 + .seconds(10))
    }
}

@Suite struct WarmupTrackerTests {
    let t0 = Timestamp(nanoseconds: 10_000_000_000_000)
    let model = WarmupModel()

    @Test func theLevelMapsGeometricallyBetweenColdAndWarm() {
        #expect(WarmupTracker.hourly(level: 0, cold: 20, warm: 50_000) == 20)
        #expect(abs(WarmupTracker.hourly(level: 1, cold: 20, warm: 50_000) - 50_000) < 0.001)
        #expect(abs(WarmupTracker.hourly(level: 0.5, cold: 20, warm: 50_000) - 1000) < 0.001)  // √(20 × 50,000)
        #expect(abs(WarmupTracker.level(hourly: 1000, cold: 20, warm: 50_000) - 0.5) < 1e-9)
    }

    @Test func busyCleanHoursRaiseTheLevelWithinTheDailyCap() {
        // A pair the provider has limited before rises at most the daily pace.
        var tracker = WarmupTracker(now: t0, limited: true)
        var now = t0
        for _ in 0..<23 {  // within one day
            for _ in 0..<20 { tracker.recordSend(now: now) }  // the whole cold allowance
            now = now + .seconds(3600)
            tracker.roll(now: now, allowance: 20, model: model)
        }
        #expect(abs(tracker.level - model.maxRisePerDay * model.paceProbe) < 1e-9)
    }

    @Test func aQuietHourDoesNotRaiseIt() {
        var tracker = WarmupTracker(now: t0)
        tracker.recordSend(now: t0)
        tracker.roll(now: t0 + .seconds(3600), allowance: 20, model: model)
        #expect(tracker.level == 0)
    }

    @Test func aThrottleLowersItAndTheHourDoesNotCount() {
        var tracker = WarmupTracker(level: 0.5, now: t0)
        for _ in 0..<1000 { tracker.recordSend(now: t0) }
        tracker.recordThrottle(model: model)
        #expect(abs(tracker.level - 0.4) < 1e-9)
        tracker.roll(now: t0 + .seconds(3600), allowance: 1000, model: model)
        #expect(abs(tracker.level - 0.4) < 1e-9)
    }

    @Test func aThrottleLateInAFullHourCostsLittleAndAnEarlyOneTheFullDrop() {
        // Gmail's range: 20 to 50,000 an hour. At level 0.5 the allowance is 1,000 an hour.
        let level = 0.5
        let taken = WarmupTracker.level(hourly: 950, cold: 20, warm: 50_000)
        var late = WarmupTracker(level: level, now: t0)
        late.recordThrottle(model: model, takenLevel: taken)
        #expect(abs(late.level - (taken - model.throttleMargin)) < 1e-9)
        #expect(level - late.level < 0.02)
        var early = WarmupTracker(level: level, now: t0)
        early.recordThrottle(model: model, takenLevel: WarmupTracker.level(hourly: 30, cold: 20, warm: 50_000))
        #expect(abs(early.level - (level - model.throttleDrop)) < 1e-9)
        // Never a rise, even when the hour took more than the allowance.
        var over = WarmupTracker(level: level, now: t0)
        over.recordThrottle(model: model, takenLevel: 0.9)
        #expect(abs(over.level - (level - model.throttleMargin)) < 1e-9)
    }

    @Test func itDecaysToColdAfterTwoWeeksOfSilence() {
        var tracker = WarmupTracker(level: 1, now: t0)
        tracker.recordSend(now: t0)
        tracker.roll(now: t0 + .seconds(86_400), allowance: 50_000, model: model)
        #expect(tracker.level == 1)  // within the grace period
        tracker.roll(now: t0 + .seconds(8 * 86_400), allowance: 50_000, model: model)
        #expect(tracker.level < 0.6 && tracker.level > 0.4)
        tracker.roll(now: t0 + .seconds(14 * 86_400 + 3600), allowance: 50_000, model: model)
        #expect(tracker.level == 0)
    }
}

@Suite struct ShapingRouterTests {
    let t0 = Timestamp(nanoseconds: 20_000_000_000_000)

    func router(spillover: Router.Spillover, shared: Bool = true, ips: [String] = ["127.0.0.2", "127.0.0.3"]) -> Router {
        let overrides = ["gmail": ProviderProfile.Override(coldHourly: 20, warmHourly: 50_000)]
        return Router(pools: [.init(name: "p", ips: ips, scaling: .fixed, spillover: spillover)],
                      sharedPool: shared ? .init() : nil, now: t0,
                      profiles: { ProviderProfile.resolve($0, overrides: overrides) })
    }

    @Test func aColdPoolSendsItsAllowanceAndSpillsTheRestWhenAllowed() {
        var router = router(spillover: .always)
        let decisions = (0..<300).map { _ in router.route(provider: .gmail, pool: "p", now: t0) }
        let dedicated = decisions.filter { if case .dedicated = $0 { true } else { false } }
        // A burst of one per IP at 20 an hour.
        #expect(dedicated.count == 2)
        #expect(decisions.filter { $0 == .shared }.count == 298)
    }

    @Test func withoutSpilloverTheRestWaitsForTheRefill() {
        var router = router(spillover: .never)
        _ = router.route(provider: .gmail, pool: "p", now: t0)
        _ = router.route(provider: .gmail, pool: "p", now: t0)
        #expect(router.route(provider: .gmail, pool: "p", now: t0) == .deferred(until: t0 + .seconds(180)))
        #expect(router.route(provider: .gmail, pool: "p", now: t0 + .seconds(180)) != .shared)
    }

    @Test func whileWarmingSpillsOnlyWhileSomeIPIsCold() {
        var router = router(spillover: .whileWarming, ips: ["127.0.0.2"])
        let warm = WarmupTracker(level: 1, now: t0)
        router.restore([PairSnapshot(ip: "127.0.0.2", provider: .gmail, warmup: warm, suspendedUntil: nil)], now: t0)
        var spilled = 0
        for _ in 0..<2000 where router.route(provider: .gmail, pool: "p", now: t0) == .shared { spilled += 1 }
        #expect(spilled == 0)
    }

    @Test func aThrottleSlowsThePairAtOnce() throws {
        var router = router(spillover: .never, ips: ["127.0.0.2"])
        router.restore([PairSnapshot(ip: "127.0.0.2", provider: .gmail, warmup: WarmupTracker(level: 0.8, now: t0), suspendedUntil: nil)], now: t0)
        let before = try #require(router.allowance(ip: "127.0.0.2", provider: .gmail, now: t0))
        router.record(try #require(SMTPReply(parsing: ProviderReplies.gmailThrottle)).reading, ip: "127.0.0.2", provider: .gmail, now: t0)
        let after = try #require(router.allowance(ip: "127.0.0.2", provider: .gmail, now: t0))
        #expect(after < before / 2)
        #expect(router.suspension(ip: "127.0.0.2", provider: .gmail, now: t0) == t0 + .seconds(900))
    }

    @Test func aThrottleRestsThePairUntilTheWindowEndsWhenResumingWouldSendTheNewAllowance() throws {
        // 240 an hour; 20 minutes in, the pair has sent about 84 when the provider throttles.
        // The level falls at most `throttleDrop` (to about 110 an hour): 84 is under 90 % of
        // that, but resuming after the 15-minute backoff would add 25 minutes at 110 an hour
        // to what the provider just refused. It rests until the window ends instead.
        var router = router(spillover: .never, ips: ["127.0.0.2"])
        let level = WarmupTracker.level(hourly: 240, cold: 20, warm: 50_000)
        router.restore([PairSnapshot(ip: "127.0.0.2", provider: .gmail, warmup: WarmupTracker(level: level, now: t0), suspendedUntil: nil)], now: t0)
        var now = t0
        while now < t0 + .seconds(1200) {
            _ = router.route(provider: .gmail, pool: "p", now: now)
            now = now + .seconds(5)
        }
        let sent = try #require(router.warmup(ip: "127.0.0.2", provider: .gmail)).sentInWindow
        router.record(try #require(SMTPReply(parsing: ProviderReplies.gmailThrottle)).reading, ip: "127.0.0.2", provider: .gmail, now: now)
        let allowance = try #require(router.allowance(ip: "127.0.0.2", provider: .gmail, now: now))
        #expect(Double(sent) < 0.9 * allowance)
        #expect(router.suspension(ip: "127.0.0.2", provider: .gmail, now: now) == t0 + .seconds(3600))
    }

    @Test func aBlockCollapsesTheLevelAndAUserUnknownChangesNothing() throws {
        var router = router(spillover: .never, ips: ["127.0.0.2"])
        router.restore([PairSnapshot(ip: "127.0.0.2", provider: .gmail, warmup: WarmupTracker(level: 0.8, now: t0), suspendedUntil: nil)], now: t0)
        router.record(try #require(SMTPReply(parsing: ProviderReplies.gmailUserUnknown)).reading, ip: "127.0.0.2", provider: .gmail, now: t0)
        #expect(router.warmup(ip: "127.0.0.2", provider: .gmail)?.level == 0.8)
        router.record(try #require(SMTPReply(parsing: ProviderReplies.gmailBlock)).reading, ip: "127.0.0.2", provider: .gmail, now: t0)
        #expect(router.warmup(ip: "127.0.0.2", provider: .gmail)?.level == 0.4)
        #expect(router.suspension(ip: "127.0.0.2", provider: .gmail, now: t0) == t0 + .seconds(12 * 3600))
    }

    @Test func theSameInputsGiveTheSameDecisions() {
        func run() -> [RouteDecision] {
            var rng = SeededGenerator(state: 42)
            var router = router(spillover: .whileWarming)
            var now = t0
            return (0..<500).map { _ in
                now = now + .seconds(Int64.random(in: 0...30, using: &rng))
                return router.route(provider: [.gmail, .yahoo, .apple][Int.random(in: 0...2, using: &rng)], pool: "p", now: now)
            }
        }
        #expect(run() == run())
    }
}

@Suite struct PoolPlannerTests {
    let t0 = Timestamp(nanoseconds: 30_000_000_000_000)

    func view(active: Int, of total: Int, appleLevel: Double = 1) -> PoolView {
        let apple = ProviderProfile.builtIn[.apple]!
        let ips = (0..<total).map { i in
            PoolView.IP(ip: "127.0.0.\(i + 2)", active: i < active, pairs: [
                .apple: .init(level: appleLevel, sentThisHour: 0, hourly: WarmupTracker.hourly(level: appleLevel, cold: apple.coldHourly, warm: apple.warmHourly), lastSentAt: nil),
            ])
        }
        return PoolView(name: "p", ips: ips, minIPs: 1, maxIPs: total, managed: true, profiles: [.apple: apple])
    }

    @Test func aProviderWithALowCeilingPerIPMakesThePoolScaleOut() {
        var planner = PoolPlanner()
        // Apple takes 10,000 an hour from a warm IP; 30,000 an hour needs four at 80 %.
        let plan = planner.plan(view(active: 1, of: 6), demand: [.apple: 30_000])
        #expect(plan.add == ["127.0.0.3", "127.0.0.4", "127.0.0.5"])  // all it needs, in one round
        #expect(plan.reason.contains("apple"))
    }

    @Test func whileThePoolWarmsItTakesOneMoreIPARound() {
        var planner = PoolPlanner()
        // 5,000 an hour is within two warm IPs, but beyond two IPs at 20 %.
        let plan = planner.plan(view(active: 2, of: 6, appleLevel: 0.2), demand: [.apple: 5_000])
        #expect(plan.add == ["127.0.0.4"])
        // Demand the active IPs carry today changes nothing.
        #expect(planner.plan(view(active: 2, of: 6, appleLevel: 1), demand: [.apple: 5_000]).isEmpty)
    }

    @Test func sustainedUnderUseReleasesAnIPButNeverBelowTheMinimum() {
        var planner = PoolPlanner()
        var plans: [PoolPlan] = []
        for _ in 0..<planner.scaleInAfter { plans.append(planner.plan(view(active: 3, of: 3), demand: [.apple: 100])) }
        #expect(plans.dropLast().allSatisfy { $0.isEmpty })  // a day of under-use, not a quiet night
        #expect(plans.last?.release.count == 1)
        var single = PoolPlanner()
        for _ in 0..<5 { #expect(single.plan(view(active: 1, of: 3), demand: [:]).isEmpty) }
    }
}
