import Foundation
import KilnCore
import KilnSimulation
import Testing

@Suite struct ProviderPhysicsTests {
    let gmail = ProviderModel.defaults("gmail")
    var rng = SeededRandom(seed: 1)

    @Test mutating func aColdIPAtCapacityIsNeverThrottled() {
        var pair = SimulatedPair(reputation: 0)
        let cap = Int(gmail.capacity(reputation: 0))  // 20 an hour
        for hour in 0..<24 {
            pair.startHour()
            for k in 0..<cap {
                #expect(pair.attempt(gmail, at: Int64(hour * 3600 + k) * 1_000_000_000, hardBounceRate: 0, using: &rng) == .accepted)
            }
        }
    }

    @Test mutating func threeTimesCapacityBlocksWithTheDefaultBlockFactor() {
        var pair = SimulatedPair(reputation: 0)
        pair.startHour()
        var outcomes: [SimulatedPair.Outcome] = []
        for k in 0..<61 { outcomes.append(pair.attempt(gmail, at: Int64(k) * 1_000_000_000, hardBounceRate: 0, using: &rng)) }
        #expect(outcomes.prefix(22).allSatisfy { $0 == .accepted })  // capacity plus 10 % tolerance
        #expect(outcomes[22] == .throttled)
        #expect(outcomes[60] == .blocked(newEpisode: true))
        #expect(pair.attempt(gmail, at: 3_600_000_000_000, hardBounceRate: 0, using: &rng) == .blocked(newEpisode: false))
    }

    @Test func reputationGrowsWithUseAndDecaysWhenIdle() {
        var used = SimulatedPair(reputation: 0.5)
        var rng = SeededRandom(seed: 2)
        let cap = Int(gmail.capacity(reputation: 0.5))
        for hour in 0..<24 {
            used.startHour()
            for k in 0..<cap { _ = used.attempt(gmail, at: Int64(hour * 3600 + k) * 1_000_000_000, hardBounceRate: 0, using: &rng) }
        }
        used.endDay(gmail, complaintRate: 0)
        #expect(used.reputation > 0.5)
        var idle = SimulatedPair(reputation: 0.5)
        idle.endDay(gmail, complaintRate: 0)
        #expect(abs(idle.reputation - (0.5 - gmail.idleDecayPerDay!)) < 1e-9)
    }
}

@Suite struct ScenarioTests {
    static let scenarios = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Scenarios").path

    @Test func unknownKeysAndBadValuesAreNamed() {
        let json = #"{"seed": 1, "days": 0, "demand": {"messagesPerDay": 100, "hourlyProfil": "flat"}, "mix": {"gmail": 1},"#
            + #""pool": {"initialIPs": 1, "maxIPs": 1}, "events": [{"type": "explode", "day": 3}]}"#
        do {
            _ = try Scenario.load(json: Data(json.utf8), source: "test.json")
            Issue.record("accepted")
        } catch {
            #expect(error.message.contains("demand.hourlyProfil"))
            #expect(error.message.contains("days"))
            #expect(error.message.contains("events[0].type"))
        }
    }

    @Test func everyShippedScenarioLoads() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.scenarios).filter { $0.hasSuffix(".json") }
        #expect(files.count >= 6)
        for file in files { _ = try Scenario.load(path: Self.scenarios + "/" + file) }
    }

    /// A small scenario, quick in a debug build.
    func small(days: Int = 30, perDay: Double = 6_000, extra: String = "") throws -> Scenario {
        try Scenario.load(json: Data("""
            {"seed": 11, "days": \(days), "demand": {"messagesPerDay": \(perDay), "hourlyProfile": "business"},
             "mix": {"gmail": 0.5, "microsoft": 0.3, "yahoo": 0.2}, "list": {"hardBounceRate": 0.005},
             "pool": {"initialIPs": 2, "minIPs": 1, "maxIPs": 4, "spillover": "whileWarming"} \(extra)}
            """.utf8), source: "small")
    }

    @Test func theSameSeedGivesTheSameDays() async throws {
        let scenario = try small(days: 5)
        let a = await offThePool { SimulationReport.csv(Simulator(scenario: scenario).run(.adaptive)) }
        let b = await offThePool { SimulationReport.csv(Simulator(scenario: scenario).run(.adaptive)) }
        #expect(a == b)
        #expect(a.hasPrefix(SimulationReport.csvHeader))
    }

    @Test func adaptiveWarmsUpWithoutBlocksAndBeatsTheFixedPlans() async throws {
        let scenario = try small()
        let simulator = Simulator(scenario: scenario)
        let (adaptive, oracle, ses) = await offThePool {
            (simulator.run(.adaptive).summary, simulator.run(.oracle).summary, simulator.run(.fixed("ses45")).summary)
        }
        #expect(adaptive.blocks == 0)
        #expect(adaptive.expired == 0)
        #expect(adaptive.throttleRate <= 0.01)
        #expect(adaptive.dedicatedShare >= 0.9 * oracle.dedicatedShare, "adaptive \(adaptive.dedicatedShare), oracle \(oracle.dedicatedShare)")
        #expect(adaptive.dedicatedShare > ses.dedicatedShare)
    }

    @Test func withoutWarmUpLimitsTheRepliesComeBackTooLateAndTheIPsGetBlocked() async throws {
        // Replies reach the engine only when their transactions end: a sender that routes
        // a backlog at once learns of the throttle after the queued attempts went out.
        let scenario = try small(days: 1)
        let simulator = Simulator(scenario: scenario)
        let (none, adaptive) = await offThePool { (simulator.run(.none).summary, simulator.run(.adaptive).summary) }
        #expect(none.blocks > 0)
        #expect(adaptive.blocks == 0)
        #expect(none.throttleRate > adaptive.throttleRate)
    }

    @Test func aPausedProviderRampsAgainWithoutBlocks() async throws {
        let scenario = try small(days: 40, extra: #", "events": [{"type": "pause", "day": 10, "provider": "yahoo", "days": 14}]"#)
        let result = await offThePool { Simulator(scenario: scenario).run(.adaptive) }
        let yahoo = result.days.filter { $0.provider == "yahoo" }
        #expect(yahoo[24].warmupPercent < yahoo[9].warmupPercent)  // decayed during the pause
        #expect(yahoo.allSatisfy { $0.blocked == 0 })
        #expect(yahoo[39].warmupPercent > yahoo[24].warmupPercent)  // and ramps again
    }
}

/// Runs a long, CPU-bound computation on a thread of its own, so that it does not hold one
/// of the few threads of Swift's cooperative pool while other tests wait on timers and
/// sockets (on a 2-core machine the pool has 2 threads).
func offThePool<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        Thread { continuation.resume(returning: body()) }.start()
    }
}

@Suite struct SimulationCSVTests {
    /// The CSV's percentages: negative ones keep their sign in front (`-21.2`, not `-21.-2`).
    @Test(arguments: [(-21.2, "-21.2"), (-0.06, "-0.1"), (-0.04, "0.0"), (5, "5.0"), (0.25, "0.3")])
    func percentagesHaveOneDecimal(_ value: Double, _ text: String) {
        #expect(SimulationReport.oneDecimal(value) == text)
    }
}
