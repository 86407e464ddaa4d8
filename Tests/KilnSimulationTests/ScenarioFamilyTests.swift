import Foundation
import KilnCore
import KilnSimulation
import Testing

@Suite struct ScenarioFamilyTests {
    static func json(_ scenarios: [Scenario]) throws -> [String] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return try scenarios.map { String(decoding: try encoder.encode($0), as: UTF8.self) }
    }

    @Test func theSameSeedDrawsTheSameScenarios() throws {
        let a = try Self.json(ScenarioFamily(seed: 7).scenarios(25))
        let b = try Self.json(ScenarioFamily(seed: 7).scenarios(25))
        #expect(a == b)
        // Scenario i does not depend on how many are drawn.
        #expect(try Self.json(ScenarioFamily(seed: 7).scenarios(3)) == Array(a.prefix(3)))
        let other = try Self.json(ScenarioFamily(seed: 8).scenarios(25))
        #expect(Set(a).isDisjoint(with: Set(other)))
    }

    @Test func everyDrawnScenarioValidatesAndStaysInTheDocumentedRanges() throws {
        let encoder = JSONEncoder()
        for scenario in ScenarioFamily(seed: 3).scenarios(300) {
            // Written out and read back like a shipped scenario file.
            let loaded = try Scenario.load(json: try encoder.encode(scenario), source: scenario.name ?? "")
            #expect((20_000...3_000_000).contains(loaded.demand.messagesPerDay))
            #expect((1...16).contains(loaded.pool.maxIPs) && loaded.pool.initialIPs <= loaded.pool.maxIPs)
            #expect((0...0.04).contains(loaded.list?.hardBounceRate ?? -1))
            #expect((2...5).contains(loaded.mix.count))
            for (_, model) in try #require(loaded.providers) {
                let cold = try #require(model.coldHourly), warm = try #require(model.warmHourly), tolerance = try #require(model.tolerance)
                let growth = try #require(model.growthPerDay), blockFactor = try #require(model.blockFactor)
                #expect((5...300).contains(cold) && warm >= cold && warm <= 100_000)
                #expect((0.01...0.2).contains(growth))
                #expect((0.02...0.3).contains(tolerance))
                #expect((1.3...4).contains(blockFactor) && blockFactor >= 1.14 * (1 + tolerance))
                // In whole messages: two throttled attempts before the block at the coldest.
                #expect(blockFactor * cold >= (cold * (1 + tolerance)).rounded(.up) + 2 - 1e-9)
            }
            for event in loaded.events ?? [] where event.type == "pause" { #expect((3...20).contains(event.days ?? 0)) }
        }
    }

    /// Twenty small random worlds (8 days, 2,000 to 10,000 a day): the adaptive warm-up never
    /// gets an IP blocked and stays near the oracle in every one (measured: the lowest at
    /// 0.96, #1; the others at 0.98 or more). #1 (one IP, about 120 messages an hour over
    /// three providers, under 60 an hour each, arriving in the first minutes of each hour)
    /// was at 0.41 while a message that found no token spilled at once: each pair used a
    /// minute's burst of its allowance, the hours never counted as busy and the levels
    /// never rose. Messages now wait for the IPs' pacing up to the pool's spill wait.
    @Test func adaptiveHoldsOnTwentySmallRandomScenarios() async throws {
        let scenarios = ScenarioFamily(seed: 99, days: 8, messagesPerDay: 2_000...10_000).scenarios(20)
        let results = await offThePool {
            scenarios.map { scenario in [SimulationStrategy.adaptive, .oracle].map { Simulator(scenario: scenario).run($0).summary } }
        }
        let report = FamilyReport(seed: 99, days: 8, scenarios: scenarios, results: results)
        for (scenario, summaries) in zip(scenarios, results) {
            let adaptive = summaries[0], oracle = summaries[1]
            #expect(adaptive.blocks == 0, "\(scenario.name ?? "")")
            #expect(adaptive.dedicatedShare >= 0.9 * oracle.dedicatedShare,
                    "\(scenario.name ?? ""): adaptive \(adaptive.dedicatedShare), oracle \(oracle.dedicatedShare)")
        }
        #expect(report.strategies[0].ratioToOracle.median >= 0.97)
        #expect(report.worst.count == 5)
    }

    /// Providers that word their throttles and blocks in words the reply table does not
    /// hold (the generic pool: a bare `421 4.3.2 Service not available`, `554 5.7.1
    /// Rejected`; and a mix of every pool): adaptive is never blocked.
    @Test(arguments: [ScenarioFamily.Wording.generic, .mixed])
    func adaptiveIsNeverBlockedWhateverTheWording(_ wording: ScenarioFamily.Wording) async throws {
        let scenarios = ScenarioFamily(seed: 99, days: 8, messagesPerDay: 2_000...10_000, wording: wording).scenarios(12)
        #expect(scenarios.allSatisfy { $0.wording != nil })
        let results = await offThePool {
            scenarios.map { scenario in [SimulationStrategy.adaptive, .oracle].map { Simulator(scenario: scenario).run($0).summary } }
        }
        let report = FamilyReport(seed: 99, days: 8, scenarios: scenarios, results: results)
        for (scenario, summaries) in zip(scenarios, results) {
            #expect(summaries[0].blocks == 0, "\(scenario.name ?? ""): \(scenario.wording ?? [:])")
        }
        #expect(report.byWording?.isEmpty == false)
        #expect(report.strategies[0].ratioToOracle.median >= 0.95)
    }

    /// A wording changes the replies only: the hidden numbers are the family's, and `known`
    /// is the family as it always was.
    @Test func theWordingChangesOnlyTheReplies() throws {
        let known = ScenarioFamily(seed: 7).scenarios(10)
        let generic = ScenarioFamily(seed: 7, wording: .generic).scenarios(10)
        for (a, b) in zip(known, generic) {
            #expect(a.wording == nil)
            #expect(a.seed == b.seed && a.mix == b.mix && a.pool.maxIPs == b.pool.maxIPs)
            for (name, model) in a.providers ?? [:] {
                let other = try #require(b.providers?[name])
                #expect(model.coldHourly == other.coldHourly && model.blockFactor == other.blockFactor)
                #expect(model.throttleReplies == nil && other.throttleReplies?.count == 3)
            }
        }
        // Every pool's replies are what they claim: 4xx throttles, 5xx blocks.
        for kind in ScenarioFamily.Wording.pools where kind != .known {
            for scenario in ScenarioFamily(seed: 3, wording: kind).scenarios(20) {
                // Loading checks every reply's code (and that the file replays as written).
                let loaded = try Scenario.load(json: JSONEncoder().encode(scenario), source: scenario.name ?? "")
                for (name, model) in scenario.providers ?? [:] {
                    #expect(loaded.providers?[name]?.blockReplies == model.blockReplies)
                    #expect(loaded.providers?[name]?.throttleReplies == model.throttleReplies)
                }
            }
        }
    }

    @Test func theFamilyRunDoesNotDependOnTheNumberOfWorkers() async throws {
        let scenarios = ScenarioFamily(seed: 4, days: 3, messagesPerDay: 2_000...5_000).scenarios(4)
        let one = await Simulator.runFamily(scenarios, strategies: [.adaptive, .oracle], workers: 1)
        let two = await Simulator.runFamily(scenarios, strategies: [.adaptive, .oracle], workers: 2)
        #expect(one == two)
        #expect(one.count == 4 && one.allSatisfy { $0.map(\.strategy) == ["adaptive", "oracle"] })
    }

    @Test func percentilesAreNearestRank() {
        let d = FamilyReport.Distribution((1...100).map(Double.init))
        #expect(d.min == 1 && d.p5 == 5 && d.median == 50.5 && d.mean == 50.5)
    }
}
