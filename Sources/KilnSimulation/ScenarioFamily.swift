import Glibc
import KilnCore

/// A family of random scenarios, drawn from wide ranges of every hidden parameter, for
/// each provider independently: a test of the warm-up on providers it was not tuned for.
/// The same seed gives the same scenarios; scenario `i` depends only on the seed and `i`.
///
/// | parameter | range (drawn per scenario, per provider) |
/// |---|---|
/// | providers | 2 to 5 of gmail, microsoft, yahoo, apple, other; random shares |
/// | `coldHourly` | 5 to 300 per IP (log-uniform) |
/// | `warmHourly` | 300 to 100,000 per IP (log-uniform, at least `coldHourly`) |
/// | `growthPerDay` | 0.01 to 0.20 |
/// | `tolerance` | 0.02 to 0.3 |
/// | `blockFactor` | 1.3 to 4, and at least 1.15 × (1 + `tolerance`): a provider throttles before it blocks; raised where needed so that, in whole messages, an hour at `coldHourly` gets two throttled attempts before the block |
/// | `throttlePenalty` | 0 to 0.2 |
/// | `idleDecayPerDay` | 0.02 to 0.15 |
/// | list | hard bounces 0 to 4 %, complaints 0 to 0.1 % (a third of lists clean: ≤ 0.5 %, ≤ 0.01 %) |
/// | demand | 20,000 to 3,000,000 a day (log-uniform), growth -1 % to +3 % a day (half flat), `flat`/`business`/`evening` profile, weekends 0.5 to 1 |
/// | events | with probability ½ a mix shift, ½ a provider pause of 3 to 20 days, ¼ a demand change (×0.5 to ×2) |
/// | pool | 1 to 16 IPs (`maxIPs`), starting with 1 to `maxIPs` / 2 |
///
/// The provider names keep their real reply texts (the engine classifies them); the
/// hidden numbers are independent of the engine's built-in profiles for those names.
public struct ScenarioFamily: Sendable {
    public var seed: UInt64
    public var days: Int
    /// The range daily demand is drawn from (log-uniform).
    public var messagesPerDay: ClosedRange<Double>
    /// How the providers word their throttles and blocks.
    public var wording: Wording

    /// The wording pool the family's providers draw their throttle and block replies from.
    /// `known` is the reply table's own phrases (each provider's real reply); the others
    /// are written apart from the table and kept out of its tests (`ReplyWordingPools`), so
    /// that they measure the reading rather than the table.
    public enum Wording: String, Sendable, CaseIterable, Codable {
        case known, paraphrase, generic, foreign
        /// Each provider of each scenario draws one of the four.
        case mixed

        /// The four pools (`mixed` draws among them).
        public static let pools: [Wording] = [.known, .paraphrase, .generic, .foreign]

        /// The pool's throttle (4xx) and block (5xx) replies; empty for `known` (each
        /// provider's own reply) and `mixed` (which draws a pool).
        var replies: (throttles: [String], blocks: [String]) {
            switch self {
            case .paraphrase: (ReplyWordingPools.paraphraseThrottle, ReplyWordingPools.paraphraseBlock)
            case .generic: (ReplyWordingPools.genericThrottle, ReplyWordingPools.genericBlock)
            case .foreign: (ReplyWordingPools.foreignThrottle, ReplyWordingPools.foreignBlock)
            case .known, .mixed: ([], [])
            }
        }
    }

    public static let providerNames = ["apple", "gmail", "microsoft", "other", "yahoo"]

    public init(seed: UInt64, days: Int = 30, messagesPerDay: ClosedRange<Double> = 20_000...3_000_000, wording: Wording = .known) {
        self.seed = seed
        self.wording = wording
        self.days = days
        self.messagesPerDay = max(1, messagesPerDay.lowerBound)...max(1, messagesPerDay.upperBound)
    }

    /// The first `count` scenarios of the family.
    public func scenarios(_ count: Int) -> [Scenario] { (0..<max(0, count)).map { scenario($0) } }

    /// Scenario `index` of the family.
    public func scenario(_ index: Int) -> Scenario {
        var rng = SeededRandom(seed: seed &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(truncatingIfNeeded: index) &* 0xD1B5_4A32_D192_ED03)
        func uniform(_ low: Double, _ high: Double) -> Double { low + (high - low) * Double.random(in: 0..<1, using: &rng) }
        func logUniform(_ low: Double, _ high: Double) -> Double { exp(uniform(log(low), log(high))) }
        func chance(_ p: Double) -> Bool { Double.random(in: 0..<1, using: &rng) < p }
        func rounded(_ value: Double, _ places: Double = 1000) -> Double { (value * places).rounded() / places }

        var names = Self.providerNames
        names.shuffle(using: &rng)
        let chosen = Array(names.prefix(Int.random(in: 2...5, using: &rng))).sorted()
        func randomMix() -> [String: Double] {
            Dictionary(uniqueKeysWithValues: chosen.map { ($0, rounded(uniform(0.05, 1), 100)) })
        }
        var providers: [String: ProviderModel] = [:]
        for name in chosen {
            let cold = rounded(logUniform(5, 300), 10)
            let warm = rounded(max(cold, logUniform(300, 100_000)), 1)
            let tolerance = rounded(uniform(0.02, 0.3))
            // A provider throttles before it blocks in whole messages too: at its smallest
            // capacity (`coldHourly` an hour) an hour gets two throttled attempts before the
            // block (the draw is kept, so every other value stays the same).
            let drawn = rounded(uniform(max(1.3, 1.15 * (1 + tolerance)), 4), 100)
            let blockFactor = max(drawn, (((cold * (1 + tolerance)).rounded(.up) + 2) / cold * 100).rounded(.up) / 100)
            providers[name] = ProviderModel(
                coldHourly: cold, warmHourly: max(cold, warm), tolerance: tolerance, blockFactor: blockFactor,
                growthPerDay: rounded(uniform(0.01, 0.20)), throttlePenalty: rounded(uniform(0, 0.2)),
                idleDecayPerDay: rounded(uniform(0.02, 0.15)))
        }
        let clean = chance(1.0 / 3)
        let list = Scenario.ListQuality(
            hardBounceRate: rounded(uniform(0, clean ? 0.005 : 0.04), 10_000), complaintRate: rounded(uniform(0, clean ? 0.0001 : 0.001), 100_000))
        let profiles = ["flat", "business", "evening"]
        let demand = Scenario.Demand(
            messagesPerDay: rounded(logUniform(messagesPerDay.lowerBound, messagesPerDay.upperBound), 1), hourlyProfile: .named(profiles[Int.random(in: 0..<3, using: &rng)]),
            weekendFactor: rounded(uniform(0.5, 1), 100), growthPerDay: chance(0.5) ? 0 : rounded(uniform(-0.01, 0.03), 1000))
        var events: [Scenario.Event] = []
        if days > 2, chance(0.5) {
            events.append(Scenario.Event(type: "mixShift", day: Int.random(in: 1..<days, using: &rng), mix: randomMix()))
        }
        if days > 2, chance(0.5) {
            let provider = chosen[Int.random(in: 0..<chosen.count, using: &rng)]
            events.append(Scenario.Event(type: "pause", day: Int.random(in: 1..<days, using: &rng), provider: provider, days: Int.random(in: 3...20, using: &rng)))
        }
        if days > 2, chance(0.25) {
            events.append(Scenario.Event(type: "demandChange", day: Int.random(in: 1..<days, using: &rng),
                                         messagesPerDay: rounded(demand.messagesPerDay * logUniform(0.5, 2), 1)))
        }
        events.sort { $0.day < $1.day }
        let maxIPs = Int.random(in: 1...16, using: &rng)
        let initial = Int.random(in: 1...max(1, maxIPs / 2), using: &rng)
        // The wording is drawn apart, so the hidden numbers are the same in every wording.
        var wordingRNG = SeededRandom(seed: seed &* 0xA24B_AED4_963E_E407 ^ UInt64(truncatingIfNeeded: index) &* 0x9FB2_1C65_1E98_DF25)
        var wordings: [String: String] = [:]
        for name in chosen {
            let kind = wording == .mixed ? Wording.pools[Int.random(in: 0..<Wording.pools.count, using: &wordingRNG)] : wording
            wordings[name] = kind.rawValue
            guard kind != .known else { continue }
            // Three wordings of each, drawn per reply.
            providers[name]!.throttleReplies = Array(kind.replies.throttles.shuffled(using: &wordingRNG).prefix(3))
            providers[name]!.blockReplies = Array(kind.replies.blocks.shuffled(using: &wordingRNG).prefix(3))
        }
        var scenario = Scenario(
            name: "random seed \(seed) #\(index)", seed: rng.next(), days: days, demand: demand, mix: randomMix(), list: list,
            providers: providers, pool: Scenario.Pool(initialIPs: initial, minIPs: 1, maxIPs: maxIPs, spillover: .whileWarming),
            maxMessageAgeHours: 72, events: events.isEmpty ? nil : events)
        if wording != .known { scenario.wording = wordings }
        return scenario
    }
}
