import Foundation
import KilnCore
import Testing

/// A provider whose block comes soon after its throttle: it counts an IP's messages per
/// clock hour, throttles once it has taken `throttleAt` in the hour and blocks when the
/// hour's attempts pass `blockAbove` (throttled attempts count too). The router must find
/// the limit from the throttles and stop before the block, however far above the limit its
/// level was (a pair whose reputation the provider let decay while the level held).
@Suite struct NarrowMarginTests {
    let t0 = Timestamp(nanoseconds: 40 * 86_400_000_000_000)
    let ip = "127.0.0.2"

    /// A provider that counts per clock hour.
    struct FakeHourlyProvider {
        enum Outcome { case accepted, throttled, blocked }
        var throttleAt: Int
        var blockAbove: Int
        var hour: Int64 = .min
        var attempts = 0
        var accepted = 0
        var blocks = 0
        var throttles = 0

        mutating func attempt(now: Timestamp) -> Outcome {
            let hour = now.nanoseconds / 3_600_000_000_000
            if hour != self.hour {
                self.hour = hour
                attempts = 0
                accepted = 0
            }
            attempts += 1
            if attempts > blockAbove {
                blocks += 1
                return .blocked
            }
            if accepted >= throttleAt {
                throttles += 1
                return .throttled
            }
            accepted += 1
            return .accepted
        }
    }

    func router(level: Double) -> Router {
        let overrides = ["gmail": ProviderProfile.Override(coldHourly: 20, warmHourly: 50_000)]
        var router = Router(pools: [.init(name: "p", ips: [ip], scaling: .fixed, spillover: .never)], now: t0,
                            profiles: { ProviderProfile.resolve($0, overrides: overrides) })
        router.restore([PairSnapshot(ip: ip, provider: .gmail, warmup: WarmupTracker(level: level, now: t0, limited: true))], now: t0)
        return router
    }

    /// Offers a message every 10 seconds (360 an hour) for `hours`; each reply is fed back
    /// as the engine would, 0.2 s after the attempt.
    func run(_ router: inout Router, _ provider: inout FakeHourlyProvider, hours: Int) throws {
        let throttle = try #require(SMTPReply(parsing: ProviderReplies.gmailThrottle)).reading
        let block = try #require(SMTPReply(parsing: ProviderReplies.gmailBlock)).reading
        var now = t0
        while now < t0 + .seconds(Int64(hours) * 3600) {
            if case .dedicated = router.route(provider: .gmail, pool: "p", now: now) {
                switch provider.attempt(now: now) {
                case .accepted: break
                case .throttled: router.record(throttle, ip: ip, provider: .gmail, now: now + .milliseconds(200))
                case .blocked: router.record(block, ip: ip, provider: .gmail, now: now + .milliseconds(200))
                }
            }
            now = now + .seconds(10)
        }
    }

    @Test(arguments: [0.3, 0.5, 0.8])
    func aPairFarAboveAProviderThatBlocksSoonAfterItThrottlesFindsTheLimitWithoutABlock(level: Double) throws {
        // 20 an hour taken, a block past 23 attempts: three attempts between the first
        // throttle and the block. The pair's level says 200 to 10,000 an hour.
        var router = router(level: level)
        var provider = FakeHourlyProvider(throttleAt: 20, blockAbove: 23)
        try run(&router, &provider, hours: 8)
        #expect(provider.blocks == 0)
        // Found: the allowance is at the limit, and the last hours went clean.
        let allowance = try #require(router.allowance(ip: ip, provider: .gmail, now: t0 + .seconds(8 * 3600)))
        #expect(allowance <= 22)
        #expect(provider.throttles <= 2 * 8)
    }

    @Test func aThrottleAgainAfterTheBackoffInTheSameHourRestsThePairUntilTheHourEnds() throws {
        var router = router(level: 0.5)
        let throttle = try #require(SMTPReply(parsing: ProviderReplies.gmailThrottle)).reading
        var now = t0
        for _ in 0..<20 {
            _ = router.route(provider: .gmail, pool: "p", now: now)
            now = now + .seconds(10)
        }
        // The first throttle: a bounded drop and the backoff.
        router.record(throttle, ip: ip, provider: .gmail, now: now)
        let first = try #require(router.allowance(ip: ip, provider: .gmail, now: now))
        #expect(first > 100)
        #expect(router.suspension(ip: ip, provider: .gmail, now: now) == now + .seconds(900))
        // A reply still in flight when it came is not a second throttle: a backoff again.
        now = now + .milliseconds(200)
        router.record(throttle, ip: ip, provider: .gmail, now: now)
        #expect(router.suspension(ip: ip, provider: .gmail, now: now) == now + .seconds(900))
        // After the backoff, one more message and the provider refuses again: the hour's
        // 21 are its limit; the pair falls to them and rests until the hour ends.
        now = now + .seconds(900)
        #expect(router.route(provider: .gmail, pool: "p", now: now) == .dedicated(ip: ip))
        router.record(throttle, ip: ip, provider: .gmail, now: now)
        let again = try #require(router.allowance(ip: ip, provider: .gmail, now: now))
        #expect(again <= 21 && again > 15)
        #expect(router.suspension(ip: ip, provider: .gmail, now: now) == t0 + .seconds(3600))
    }
}
