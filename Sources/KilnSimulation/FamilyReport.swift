import KilnCore

/// The distribution of each strategy's results over a family of scenarios, against the
/// oracle: what `kiln simulate --random K` prints.
public struct FamilyReport: Sendable, Codable {
    public struct Distribution: Sendable, Codable, Hashable {
        public var min: Double
        public var p5: Double
        public var median: Double
        public var mean: Double

        /// Nearest-rank percentiles of `values` (all 0 when empty).
        public init(_ values: [Double]) {
            let sorted = values.sorted()
            func rank(_ q: Double) -> Double {
                guard !sorted.isEmpty else { return 0 }
                return sorted[Swift.max(0, Swift.min(sorted.count - 1, Int((q * Double(sorted.count)).rounded(.up)) - 1))]
            }
            min = sorted.first ?? 0
            p5 = rank(0.05)
            median = sorted.isEmpty ? 0 : (sorted[(sorted.count - 1) / 2] + sorted[sorted.count / 2]) / 2
            mean = sorted.isEmpty ? 0 : sorted.reduce(0, +) / Double(sorted.count)
        }
    }

    public struct StrategyLine: Sendable, Codable, Hashable {
        public var strategy: String
        /// `dedicatedShare` over the oracle's, per scenario.
        public var ratioToOracle: Distribution
        public var withBlocks: Int
        public var maxThrottleRate: Double
        public var withExpired: Int
        /// The median over the scenarios of the p95 submit-to-delivery time (whole minutes, in hours).
        public var medianP95QueueHours: Double
        /// Its mean and its largest over the scenarios, and the scenarios in which it passed
        /// an hour: the median alone hides the few scenarios that queue.
        public var meanP95QueueHours: Double
        public var maxP95QueueHours: Double
        public var withP95QueueOverAnHour: Int
        /// IP-days over the family.
        public var ipDays: Int
    }

    /// Adaptive's results over the scenarios in which some provider words its throttles
    /// and blocks from one pool (`ScenarioFamily.Wording`).
    public struct WordingLine: Sendable, Codable, Hashable {
        public var wording: String
        public var scenarios: Int
        public var ratioToOracle: Distribution
        public var withBlocks: Int
        public var blocks: Int
    }

    public var scenarios: Int
    public var seed: UInt64
    /// The family's wording (`known` when the providers speak the table's own phrases).
    public var wording: String?
    /// Per wording pool, when the family is not `known`.
    public var byWording: [WordingLine]?
    public var days: Int
    public var strategies: [StrategyLine]
    /// The share of scenarios in which adaptive's `dedicatedShare` is above both fixed plans'.
    public var adaptiveAheadOfFixed: Double
    /// Adaptive / oracle per scenario, in family order (for charts).
    public var adaptiveRatios: [Double]
    /// The five scenarios with the lowest adaptive / oracle, in full: replay one with `--scenario`.
    public var worst: [Scenario]
    /// The first five scenarios in which adaptive had a block, in full: replay one with `--scenario`.
    public var blocked: [Scenario]
    /// The first five scenarios in which adaptive let a message expire, in full.
    public var expired: [Scenario]

    /// - Parameter results: per scenario, the summaries of the strategies run (the oracle among them).
    public init(seed: UInt64, days: Int, scenarios: [Scenario], results: [[StrategySummary]]) {
        self.scenarios = scenarios.count
        self.seed = seed
        self.days = days
        func ratio(_ summaries: [StrategySummary], _ name: String) -> Double {
            let oracle = summaries.first { $0.strategy == "oracle" }?.dedicatedShare ?? 0
            let share = summaries.first { $0.strategy == name }?.dedicatedShare ?? 0
            return oracle > 0 ? share / oracle : (share > 0 ? 1 : 1)
        }
        let names = results.first?.map(\.strategy) ?? []
        strategies = names.map { name in
            let rows = results.compactMap { $0.first { $0.strategy == name } }
            let queue = Distribution(rows.map(\.p95QueueHours))
            return StrategyLine(
                strategy: name, ratioToOracle: Distribution(results.map { ratio($0, name) }), withBlocks: rows.filter { $0.blocks > 0 }.count,
                maxThrottleRate: rows.map(\.throttleRate).max() ?? 0, withExpired: rows.filter { $0.expired > 0 }.count,
                medianP95QueueHours: queue.median, meanP95QueueHours: (queue.mean * 100).rounded() / 100, maxP95QueueHours: rows.map(\.p95QueueHours).max() ?? 0,
                withP95QueueOverAnHour: rows.filter { $0.p95QueueHours > 1 }.count, ipDays: rows.reduce(0) { $0 + $1.ipDays })
        }
        adaptiveRatios = results.map { (ratio($0, "adaptive") * 10_000).rounded() / 10_000 }
        let fixed = names.filter { $0.hasPrefix("fixed:") }
        let ahead = results.filter { summaries in
            let adaptive = summaries.first { $0.strategy == "adaptive" }?.dedicatedShare ?? 0
            return fixed.allSatisfy { name in adaptive > (summaries.first { $0.strategy == name }?.dedicatedShare ?? 0) }
        }
        adaptiveAheadOfFixed = results.isEmpty ? 0 : Double(ahead.count) / Double(results.count)
        let order = results.indices.sorted { (ratio(results[$0], "adaptive"), $0) < (ratio(results[$1], "adaptive"), $1) }
        worst = order.prefix(5).map { scenarios[$0] }
        func adaptiveFailed(_ count: (StrategySummary) -> Int) -> [Scenario] {
            results.indices.filter { (results[$0].first { $0.strategy == "adaptive" }.map(count) ?? 0) > 0 }.prefix(5).map { scenarios[$0] }
        }
        blocked = adaptiveFailed(\.blocks)
        expired = adaptiveFailed(\.expired)
        if scenarios.contains(where: { $0.wording != nil }) {
            byWording = ScenarioFamily.Wording.pools.compactMap { kind in
                let members = scenarios.indices.filter { scenarios[$0].wording?.values.contains(kind.rawValue) ?? (kind == .known) }
                guard !members.isEmpty else { return nil }
                let adaptive = members.compactMap { i in results[i].first { $0.strategy == "adaptive" } }
                return WordingLine(wording: kind.rawValue, scenarios: members.count, ratioToOracle: Distribution(members.map { ratio(results[$0], "adaptive") }),
                                   withBlocks: adaptive.filter { $0.blocks > 0 }.count, blocks: adaptive.reduce(0) { $0 + $1.blocks })
            }
        }
    }
}

extension Simulator {
    /// The strategies a family runs: adaptive, both fixed plans and the oracle.
    public static let familyStrategies: [SimulationStrategy] = [.adaptive, .fixed("ses45"), .fixed("stages30"), .oracle]

    /// Runs every scenario with every strategy, `workers` scenarios at a time (each run
    /// stays single-threaded and deterministic, so the results do not depend on `workers`).
    /// - Returns: per scenario, the summaries in `strategies` order.
    public static func runFamily(
        _ scenarios: [Scenario], strategies: [SimulationStrategy] = familyStrategies, model: WarmupModel = WarmupModel(), workers: Int = 2
    ) async -> [[StrategySummary]] {
        // One task per (scenario, strategy), so that both workers stay busy to the end.
        let count = scenarios.count * strategies.count
        return await withTaskGroup(of: (Int, StrategySummary).self) { group in
            var flat = [StrategySummary?](repeating: nil, count: count)
            var next = 0
            func start(_ k: Int) {
                let scenario = scenarios[k / strategies.count], strategy = strategies[k % strategies.count]
                group.addTask { (k, Simulator(scenario: scenario, model: model).run(strategy).summary) }
            }
            while next < min(max(1, workers), count) {
                start(next)
                next += 1
            }
            while let (k, summary) = await group.next() {
                flat[k] = summary
                if next < count {
                    start(next)
                    next += 1
                }
            }
            let results = scenarios.indices.map { s in strategies.indices.map { flat[s * strategies.count + $0]! } }
            return results
        }
    }
}
