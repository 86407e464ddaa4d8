@testable import Kiln
import KilnCore
import Testing

/// The one drain estimate (`DrainEstimate`) behind `kiln queue`, `kiln campaign status` and
/// a campaign run's progress, and the reasons a campaign report counts failures by.
@Suite struct DrainEstimateTests {
    func pair(_ ip: String, _ hourly: Int, suspended: Bool = false) -> EngineStatus.PairStatus {
        EngineStatus.PairStatus(ip: ip, provider: "gmail", percent: 0, hourly: hourly,
                                suspendedUntil: suspended ? Timestamp(nanoseconds: 1) : nil)
    }

    @Test func theDocumentedTable() {
        let pairs = [pair("a", 200), pair("b", 180)]
        #expect(DrainEstimate(provider: "gmail", pending: 1_200, pairs: pairs).seconds == 11_369)
        #expect(DrainEstimate(provider: "gmail", pending: 1_200, pairs: pairs, relay: .init(hourly: 240, spillWaitSeconds: 900)).seconds == 6_968)
        #expect(DrainEstimate(provider: "gmail", pending: 1_200, pairs: pairs, relay: .init(hourly: nil, spillWaitSeconds: 900)).seconds == 900)
        #expect(DrainEstimate(provider: "gmail", pending: 10, pairs: []).seconds == nil)
        #expect(DrainEstimate(provider: "gmail", pending: 10, pairs: pairs, paused: true).seconds == nil)
    }

    @Test func aRestingPairGrantsNothing() {
        let estimate = DrainEstimate(provider: "gmail", pending: 360, pairs: [pair("a", 360), pair("b", 3_600, suspended: true)])
        #expect(estimate.hourly == 360)
        #expect(estimate.seconds == 3_600)
    }

    @Test(arguments: [(20, "~20 s"), (190, "~3 m 10 s"), (11_400, "~3 h 10 m"), (183_600, "~2 d 3 h")] as [(Int64, String)])
    func aDurationReads(_ seconds: Int64, _ text: String) {
        #expect(DrainEstimate.text(seconds: seconds) == text)
    }

    @Test(arguments: [
        ("kiln: the variable 'code' is missing for a@b.c (at variables.code)", "template variable missing"),
        ("the Subject field renders to 20010 octets, over feedback.maxHeaderBytes (16384)", "header too long"),
        ("rendered to 99 bytes, over delivery.maxMessageBytes (10)", "message too big"),
        ("content 12 is missing", "content missing"),
        ("something new", "rendering failed"),
    ])
    func aRenderingFailureHasAReason(_ detail: String, _ reason: String) {
        #expect(CampaignRunner.failureReason(detail: detail) == reason)
    }
}
