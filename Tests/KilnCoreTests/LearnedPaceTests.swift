import Foundation
import KilnCore
import Testing

/// The learned ramp: slow start within a day, a pace per provider learned from every IP,
/// a ceiling once throttles stop rising, and the planner scaling out on it.
@Suite struct LearnedPaceTests {
    let t0 = Timestamp(nanoseconds: 40 * 86_400_000_000_000)
    let model = WarmupModel()

    /// Closes one hour in which the pair sent `sent`.
    func hour(_ tracker: inout WarmupTracker, sent: Int, allowance: Double, pace: Double, at now: inout Timestamp) {
        for _ in 0..<sent { tracker.recordSend(now: now) }
        now = now + .seconds(3600)
        tracker.roll(now: now, allowance: allowance, model: model, pace: pace)
    }

    @Test func cleanHoursAtFullUseRiseFasterAndFasterWithinThePace() {
        var tracker = WarmupTracker(now: t0, limited: true)
        var now = t0
        var levels: [Double] = []
        for _ in 0..<4 {
            hour(&tracker, sent: 100, allowance: 100, pace: 0.25, at: &now)
            levels.append(tracker.level)
        }
        // 0.0125, then 0.025, 0.05, 0.1: doubling steps.
        #expect(abs(levels[0] - 0.0125) < 1e-9 && abs(levels[1] - 0.0375) < 1e-9 && abs(levels[2] - 0.0875) < 1e-9 && abs(levels[3] - 0.1875) < 1e-9)
        // Bounded: never more than `maxProbeStep` an hour, never more than twice the pace a day.
        for _ in 0..<10 { hour(&tracker, sent: 100, allowance: 100, pace: 0.25, at: &now) }
        #expect(abs(tracker.level - 0.5) < 1e-9)
        #expect(tracker.reachedDailyCap)
        // Before the provider ever limited it, the pair looks for the limit: no daily cap.
        var fresh = WarmupTracker(now: t0)
        var fromStart = t0
        for _ in 0..<14 { hour(&fresh, sent: 100, allowance: 100, pace: 0.5, at: &fromStart) }
        #expect(abs(fresh.level - (0.1875 + 10 * 0.1)) < 1e-9)
        // A quiet hour breaks the run: the next probe starts small again.
        var other = WarmupTracker(now: t0, limited: true)
        var later = t0
        hour(&other, sent: 100, allowance: 100, pace: 0.25, at: &later)
        hour(&other, sent: 100, allowance: 100, pace: 0.25, at: &later)
        hour(&other, sent: 1, allowance: 100, pace: 0.25, at: &later)
        hour(&other, sent: 100, allowance: 100, pace: 0.25, at: &later)
        #expect(abs(other.level - (0.0125 + 0.025 + 0.0125)) < 1e-9)
    }

    @Test func afterAThrottleThePairHoldsUntilItsDayEnds() {
        var tracker = WarmupTracker(level: 0.5, now: t0)
        var now = t0
        hour(&tracker, sent: 100, allowance: 100, pace: 0.5, at: &now)
        tracker.recordThrottle(model: model, takenLevel: 0.5)
        let held = tracker.level
        #expect(held < 0.5)
        for _ in 0..<20 { hour(&tracker, sent: 100, allowance: 100, pace: 0.5, at: &now) }
        #expect(tracker.level == held)  // still the same day
        for _ in 0..<4 { hour(&tracker, sent: 100, allowance: 100, pace: 0.5, at: &now) }
        #expect(tracker.level > held)  // a new day: probing again
    }

    func router(ips: [String] = ["127.0.0.2", "127.0.0.3"]) -> Router {
        Router(pools: [.init(name: "p", ips: ips, scaling: .fixed, spillover: .never)], now: t0,
               profiles: { ProviderProfile.resolve($0, overrides: nil) })
    }

    /// Sends the whole allowance of `ip` for an hour, clean.
    func fullHour(_ router: inout Router, _ ip: String, at now: Timestamp) {
        var t = now
        while t < now + .seconds(3600) {
            if case .dedicated = router.route(provider: .gmail, pool: "p", now: t) {}
            t = t + .seconds(1)
        }
    }

    @Test func aProviderThatTakesEveryProbeEarnsAFasterPaceForEveryIP() throws {
        var router = router(ips: ["127.0.0.2"])
        router.restore([PairSnapshot(ip: "127.0.0.2", provider: .gmail, warmup: WarmupTracker(level: 0, now: t0, limited: true))], now: t0)
        let start = try #require(router.learnedPaces.first).perDay
        var now = t0
        for _ in 0..<48 {
            fullHour(&router, "127.0.0.2", at: now)
            now = now + .seconds(3600)
        }
        let learned = try #require(router.learnedPaces.first)
        #expect(learned.perDay > start)
        #expect(learned.perDay <= model.maxPace)
        // The pair rose more than the fixed ramp's two days (2 × 0.05) would allow.
        #expect(try #require(router.warmup(ip: "127.0.0.2", provider: .gmail)).level > 2 * model.maxRisePerDay + 1e-9)
    }

    @Test func aThrottleAfterARiseSetsThePaceToThatRise() throws {
        var pace = ProviderPace(provider: .gmail, perDay: 0.4)
        var before = WarmupTracker(level: 0.3, now: t0)
        var now = t0
        // Rises 0.0125 + 0.025 + 0.05 + 0.1 = 0.1875 in four clean hours (within twice the
        // pace), then a throttle
        // at the level the hour took (0.42): the provider's limit was about 0.12 above the
        // day's start.
        for _ in 0..<4 { hour(&before, sent: 1000, allowance: 1000, pace: 0.4, at: &now) }
        var after = before
        after.recordThrottle(model: model, takenLevel: 0.42)
        pace.throttled(before: before, after: after, model: model)
        #expect(abs(pace.perDay - 0.12) < 1e-9)
        #expect(pace.ceilingLevel == nil)
        pace.blocked(model: model)
        #expect(abs(pace.perDay - 0.06) < 1e-9)
    }

    @Test func throttlesThatStopRisingRevealACeilingThatScalesThePoolOut() {
        var pace = ProviderPace(provider: .apple, perDay: 0.2)
        var tracker = WarmupTracker(level: 0.6, now: t0)
        tracker.recordSend(now: t0)
        var now = t0
        // Two days later, a throttle at the level the pair began its day with.
        now = now + .seconds(2 * 86_400)
        tracker.roll(now: now, allowance: 0, model: model)
        tracker.recordSend(now: now)
        var after = tracker
        after.recordThrottle(model: model, takenLevel: tracker.level)
        pace.throttled(before: tracker, after: after, model: model)
        #expect(pace.ceilingLevel == after.level)

        // The planner then plans on that ceiling (here 1,000 an hour), not on Apple's
        // profile (10,000 an hour), and takes what the demand needs at once.
        let apple = ProviderProfile.builtIn[.apple]!
        let ips = (0..<10).map { i in
            PoolView.IP(ip: "127.0.0.\(i + 2)", active: i < 2, pairs: [.apple: .init(level: 0.7, sentThisHour: 1000, hourly: 1000, lastSentAt: nil)])
        }
        var planner = PoolPlanner()
        let view = PoolView(name: "p", ips: ips, minIPs: 1, maxIPs: 10, managed: true, profiles: [.apple: apple], ceilings: [.apple: 1000])
        let plan = planner.plan(view, demand: [.apple: 5_000])
        #expect(plan.add.count == 5)  // ⌈5,000 / (1,000 × 0.8)⌉ = 7 IPs
        let unlearned = PoolView(name: "p", ips: ips, minIPs: 1, maxIPs: 10, managed: true, profiles: [.apple: apple])
        #expect(planner.plan(unlearned, demand: [.apple: 5_000]).add.count == 1)  // one a round while warming
    }

    @Test func savedStateFromBeforeTheLearnedPaceStillLoads() throws {
        let old = #"{"level":0.5,"windowStart":7,"sentInWindow":3,"throttledInWindow":false,"dayStart":7,"risenToday":0.01,"lastSentAt":8}"#
        let tracker = try JSONDecoder().decode(WarmupTracker.self, from: Data(old.utf8))
        #expect(tracker.level == 0.5 && tracker.sentInWindow == 3 && tracker.firstSentAt == nil)
        let again = try JSONDecoder().decode(WarmupTracker.self, from: JSONEncoder().encode(tracker))
        #expect(again == tracker)
    }
}
