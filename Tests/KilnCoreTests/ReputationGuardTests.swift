import KilnCore
import Testing

@Suite struct ReputationGuardTests {
    let now = Timestamp(nanoseconds: 1_000 * 3_600_000_000_000)

    func hours(_ counts: [(sent: Int, bounces: Int, complaints: Int)]) -> [ReputationHour] {
        counts.enumerated().map { ReputationHour(hour: 1_000 - Int64($0.offset), sent: $0.element.sent, bounces: $0.element.bounces, complaints: $0.element.complaints) }
    }

    @Test func theDefaultLinesAreFivePercentTenPercentAndTenthAndHalfAPercent() {
        let t = ReputationThresholds()
        #expect(ReputationGuard.evaluate(hours([(10_000, 400, 5)]), now: now, thresholds: t).status == .healthy)
        #expect(ReputationGuard.evaluate(hours([(10_000, 500, 0)]), now: now, thresholds: t).status == .underReview)
        #expect(ReputationGuard.evaluate(hours([(10_000, 1_000, 0)]), now: now, thresholds: t).status == .sendingPaused)
        #expect(ReputationGuard.evaluate(hours([(10_000, 0, 10)]), now: now, thresholds: t).status == .underReview)
        #expect(ReputationGuard.evaluate(hours([(10_000, 0, 50)]), now: now, thresholds: t).status == .sendingPaused)
    }

    @Test func tooLittleVolumeIsNotJudged() {
        let snapshot = ReputationGuard.evaluate(hours([(50, 20, 5)]), now: now, thresholds: ReputationThresholds())
        #expect(snapshot.status == .healthy)
        #expect(snapshot.bounceRate == 0.4)
    }

    @Test func theWindowIsTheMostRecentRepresentativeVolume() {
        var t = ReputationThresholds()
        t.windowVolume = 10_000
        // A bad week long ago does not count once 10,000 recent sends are clean.
        let snapshot = ReputationGuard.evaluate(hours([(6_000, 0, 0), (6_000, 0, 0), (10_000, 5_000, 500)]), now: now, thresholds: t)
        #expect(snapshot.sent == 12_000)
        #expect(snapshot.status == .healthy)
        // A resume starts a new window.
        let resumed = ReputationGuard.evaluate(hours([(2_000, 0, 0), (10_000, 5_000, 500)]), now: now, since: 1_000, thresholds: t)
        #expect(resumed.sent == 2_000 && resumed.status == .healthy)
    }
}
