import Foundation
import KilnCore
import Testing

/// Allowance validation (RFC 2861, RFC 7661): a pair that used under half its allowance
/// for a day comes down toward what it used, and sends at most a bounded multiple of that
/// until clean hours at full use raise it back; a pair at full use is untouched.
@Suite struct AllowanceValidationTests {
    let t0 = Timestamp(nanoseconds: 40 * 86_400_000_000_000)
    let model = WarmupModel()
    let gmail = ProviderProfile.builtIn[.gmail]!  // 20 → 50,000 an hour

    func allowance(_ tracker: WarmupTracker, at now: Timestamp) -> Double {
        tracker.hourly(gmail, strategy: .adaptive(model), now: now)
    }

    /// One hour in which the pair sends `sent` (at most its allowance), closed by a roll.
    func hour(_ tracker: inout WarmupTracker, sent: Int, at now: inout Timestamp, overflowedAt: Timestamp? = nil) {
        let allowed = allowance(tracker, at: now)
        for _ in 0..<min(sent, Int(allowed)) { tracker.recordSend(now: now) }
        now = now + .seconds(3600)
        tracker.roll(now: now, allowance: allowed, model: model, pace: 0.05, profile: gmail, overflowedAt: overflowedAt?.nanoseconds)
    }

    func level(hourly: Double) -> Double { WarmupTracker.level(hourly: hourly, cold: gmail.coldHourly, warm: gmail.warmHourly) }

    @Test func aDayAtAFifthOfTheAllowanceBringsTheLevelHalfwayDownAndCapsTheNextHours() {
        var tracker = WarmupTracker(level: 1, now: t0, limited: true)
        var now = t0
        for _ in 0..<23 { hour(&tracker, sent: 2_500, at: &now) }
        // Until the day is over, nothing changes: the hour may still come.
        #expect(tracker.level == 1 && tracker.burstLevel == nil)
        hour(&tracker, sent: 2_500, at: &now)
        // Halfway in level from 50,000 an hour down to the 2,500 the busiest hour took.
        let expected = 1 - 0.5 * (1 - level(hourly: 2_500))
        #expect(abs(tracker.level - expected) < 1e-9)
        #expect(abs(allowance(WarmupTracker(level: expected, now: t0), at: now) - (50_000 * 2_500).squareRoot()) < 1)
        // The next hour sends at most twice the busiest hour, not the level's 11,180.
        #expect(abs(allowance(tracker, at: now) - 5_000) < 1e-6)
    }

    @Test func theCapRisesByProbeStepsWhileItIsUsedCleanAndThenGivesWayToTheLevel() throws {
        var tracker = WarmupTracker(level: 1, now: t0, limited: true)
        var now = t0
        for _ in 0..<24 { hour(&tracker, sent: 2_500, at: &now) }
        let level = tracker.level
        var caps: [Double] = []
        while let cap = tracker.burstLevel, caps.count < 20 {
            caps.append(cap)
            hour(&tracker, sent: 100_000, at: &now)  // demand above the allowance: full use
        }
        // 0.0125, 0.025, 0.05, 0.1, 0.1 …: the slow start's steps, then no cap.
        #expect(caps.count >= 3)
        #expect(abs(caps[1] - caps[0] - 0.0125) < 1e-9 && abs(caps[2] - caps[1] - 0.025) < 1e-9)
        #expect(tracker.burstLevel == nil)
        // The level itself did not rise while the cap was below it.
        #expect(tracker.level == level)
    }

    @Test func aPairAtFullUseOrAtHalfIsNotValidated() {
        for sent in [100_000, 25_000] {
            var tracker = WarmupTracker(level: 1, now: t0, limited: true)
            var now = t0
            for _ in 0..<30 { hour(&tracker, sent: sent, at: &now) }
            #expect(tracker.level >= 1)
            #expect(tracker.burstLevel == nil)
        }
        // A busy hour in the day is enough: the rest of the day may be quiet.
        var tracker = WarmupTracker(level: 1, now: t0, limited: true)
        var now = t0
        hour(&tracker, sent: 30_000, at: &now)
        for _ in 0..<23 { hour(&tracker, sent: 10, at: &now) }
        #expect(tracker.level >= 1 && tracker.burstLevel == nil)
    }

    @Test func aThrottledDayIsNotValidatedAndSilenceIsLeftToIdleDecay() {
        var throttled = WarmupTracker(level: 1, now: t0, limited: true)
        var now = t0
        hour(&throttled, sent: 2_500, at: &now)
        throttled.recordThrottle(model: model, takenLevel: level(hourly: 2_500))
        let afterThrottle = throttled.level
        for _ in 0..<23 { hour(&throttled, sent: 100, at: &now) }
        #expect(throttled.level == afterThrottle && throttled.burstLevel == nil)

        var silent = WarmupTracker(level: 1, now: t0, limited: true)
        var later = t0
        for _ in 0..<24 { hour(&silent, sent: 0, at: &later) }
        #expect(silent.level == 1 && silent.burstLevel == nil)
    }

    @Test func aDayInWhichThePoolRanOutOfTokensIsNotValidated() {
        // Messages found no IP with a token at 05:00 (they spilled or waited): demand was
        // there, the allowance held the pair back, whatever its busiest hour shows.
        var tracker = WarmupTracker(level: 1, now: t0, limited: true)
        var now = t0
        for _ in 0..<24 { hour(&tracker, sent: 2_500, at: &now, overflowedAt: t0 + .seconds(5 * 3600)) }
        #expect(tracker.level == 1 && tracker.burstLevel == nil)
        // The next day, with no such message, is validated.
        for _ in 0..<24 { hour(&tracker, sent: 2_500, at: &now, overflowedAt: t0 + .seconds(5 * 3600)) }
        #expect(tracker.level < 1 && tracker.burstLevel != nil)
    }

    @Test func aThrottleWhileCappedFallsFromTheCapNotFromTheLevel() throws {
        var tracker = WarmupTracker(level: 1, now: t0, limited: true)
        var now = t0
        for _ in 0..<24 { hour(&tracker, sent: 2_500, at: &now) }
        let cap = try #require(tracker.burstLevel)
        tracker.recordThrottle(model: model, takenLevel: cap)
        #expect(abs(tracker.level - (cap - model.throttleMargin)) < 1e-9)
        #expect(tracker.burstLevel == nil)
    }

    @Test func theValidationStatePersists() throws {
        var tracker = WarmupTracker(level: 1, now: t0, limited: true)
        var now = t0
        for _ in 0..<24 { hour(&tracker, sent: 2_500, at: &now) }
        for _ in 0..<3 { hour(&tracker, sent: 100, at: &now) }
        let restored = try JSONDecoder().decode(WarmupTracker.self, from: JSONEncoder().encode(tracker))
        #expect(restored == tracker)
        #expect(restored.burstLevel != nil)
        // Through the router's snapshot and restore, the capped allowance holds.
        var router = Router(pools: [.init(name: "p", ips: ["127.0.0.2"], scaling: .fixed, spillover: .never)], now: t0,
                            profiles: { ProviderProfile.resolve($0, overrides: nil) })
        router.restore([PairSnapshot(ip: "127.0.0.2", provider: .gmail, warmup: tracker)], now: now)
        let saved = try #require(router.snapshot.first)
        #expect(saved.warmup.burstLevel == tracker.burstLevel)
        #expect(abs(try #require(router.allowance(ip: "127.0.0.2", provider: .gmail, now: now)) - allowance(tracker, at: now)) < 1e-9)
    }

    @Test func theRouterValidatesAnUnderUsedPair() throws {
        var router = Router(pools: [.init(name: "p", ips: ["127.0.0.2"], scaling: .fixed, spillover: .never)], now: t0,
                            profiles: { ProviderProfile.resolve($0, overrides: nil) })
        router.restore([PairSnapshot(ip: "127.0.0.2", provider: .gmail, warmup: WarmupTracker(level: 1, now: t0, limited: true))], now: t0)
        // 100 messages an hour, one a minute-ish, for a day and an hour: far under 50,000.
        var now = t0
        for _ in 0..<(25 * 100) {
            _ = router.route(provider: .gmail, pool: "p", now: now)
            now = now + .seconds(36)
        }
        let pair = try #require(router.warmup(ip: "127.0.0.2", provider: .gmail))
        #expect(pair.level < 1)
        #expect(try #require(router.allowance(ip: "127.0.0.2", provider: .gmail, now: now)) <= 2 * 100 + 1e-6)
    }
}
