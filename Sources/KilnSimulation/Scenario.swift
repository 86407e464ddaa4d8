import Foundation
import KilnConfiguration
import KilnCore

/// A simulation scenario (JSON): demand, list quality, the providers' hidden behaviour,
/// the pool, and timed events. Unknown keys are errors naming the key.
public struct Scenario: Codable, Sendable {
    public var name: String?
    public var seed: UInt64
    public var days: Int
    public var demand: Demand
    /// Share of messages per provider (normalised).
    public var mix: [String: Double]
    public var list: ListQuality?
    /// Hidden parameters per provider (over the defaults of `ProviderModel.defaults`).
    public var providers: [String: ProviderModel]?
    public var pool: Pool
    public var maxMessageAgeHours: Double?
    public var events: [Event]?
    /// How the providers word their throttles and blocks, per provider (`known`,
    /// `paraphrase`, `generic`, `foreign`): a label set by the random family, for its report.
    public var wording: [String: String]?

    public struct Demand: Codable, Sendable {
        public var messagesPerDay: Double
        /// 24 weights, or a named profile: `flat`, `business` (the default), `evening`.
        public var hourlyProfile: HourlyProfile?
        /// Demand on Saturdays and Sundays as a share of weekdays (default 1).
        public var weekendFactor: Double?
        /// Daily growth of demand (0.01 = 1 % a day; default 0).
        public var growthPerDay: Double?
    }

    public enum HourlyProfile: Codable, Sendable {
        case named(String)
        case weights([Double])
        public init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let name = try? container.decode(String.self) { self = .named(name) } else { self = .weights(try container.decode([Double].self)) }
        }
        public func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .named(let name): try container.encode(name)
            case .weights(let weights): try container.encode(weights)
            }
        }
        var weights: [Double]? {
            switch self {
            case .weights(let w): return w.count == 24 ? w : nil
            case .named("flat"): return Array(repeating: 1, count: 24)
            case .named("business"): return [1, 1, 1, 1, 1, 2, 4, 6, 8, 8, 7, 6, 6, 6, 6, 6, 5, 4, 3, 3, 2, 2, 1, 1]
            case .named("evening"): return [2, 1, 1, 1, 1, 1, 2, 3, 3, 3, 3, 3, 3, 3, 3, 4, 5, 6, 7, 8, 8, 6, 4, 3]
            default: return nil
            }
        }
    }

    public struct ListQuality: Codable, Sendable {
        public var hardBounceRate: Double?
        public var complaintRate: Double?
    }

    public struct Pool: Codable, Sendable {
        public var initialIPs: Int
        public var minIPs: Int?
        public var maxIPs: Int
        public var spillover: Router.Spillover?
        /// The shared relay's daily limit (none: unlimited).
        public var sharedDailyLimit: Int?
    }

    public struct Event: Codable, Sendable {
        /// `mixShift`, `pause` or `demandChange`.
        public var type: String
        public var day: Int
        public var mix: [String: Double]?
        public var provider: String?
        public var days: Int?
        public var messagesPerDay: Double?
    }

    /// Reads and checks a scenario file.
    public static func load(path: String) throws(KilnError) -> Scenario {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw KilnError(.invalidInput, "cannot read the scenario", location: path)
        }
        return try load(json: data, source: path)
    }

    public static func load(json data: Data, source: String) throws(KilnError) -> Scenario {
        let data = CheckedJSON.withoutBOM(data)
        let scenario = try CheckedJSON.decode(Scenario.self, from: data, source: source)
        var problems = Configuration.unknownKeys(in: data, decoded: scenario)
        problems += scenario.validate()
        if !problems.isEmpty { throw Configuration.invalid(problems, source: source) }
        return scenario
    }

    func validate() -> [ConfigurationProblem] {
        var problems: [ConfigurationProblem] = []
        func check(_ ok: Bool, _ path: String, _ message: String) { if !ok { problems.append(ConfigurationProblem(path: path, message: message)) } }
        check(days >= 1 && days <= 3650, "days", "must be between 1 and 3650")
        problems += numericProblems()
        check(demand.messagesPerDay >= 0 && demand.messagesPerDay.isFinite, "demand.messagesPerDay", "must be a non-negative number")
        if let profile = demand.hourlyProfile { check(profile.weights != nil, "demand.hourlyProfile", "must be 24 weights or flat, business, evening") }
        check(!mix.isEmpty && mix.values.allSatisfy { $0 >= 0 } && mix.values.reduce(0, +) > 0, "mix", "needs at least one positive share")
        check(pool.initialIPs >= 1, "pool.initialIPs", "must be at least 1")
        check(pool.maxIPs >= pool.initialIPs && pool.maxIPs <= 250, "pool.maxIPs", "must be between initialIPs and 250")
        for (name, model) in providers ?? [:] {
            let path = "providers.\(name)"
            if let c = model.coldHourly, let w = model.warmHourly { check(c > 0 && w >= c, path, "needs 0 < coldHourly <= warmHourly") }
            if let r = model.initialReputation { check((0...1).contains(r), "\(path).initialReputation", "must be in [0, 1]") }
            if let reply = model.throttleReply { check(SMTPReply(parsing: reply).map { $0.code / 100 == 4 } ?? false, "\(path).throttleReply", "must be a 4xx reply") }
            if let reply = model.blockReply { check(SMTPReply(parsing: reply).map { $0.code / 100 == 5 } ?? false, "\(path).blockReply", "must be a 5xx reply") }
            for (index, reply) in (model.throttleReplies ?? []).enumerated() {
                check(SMTPReply(parsing: reply).map { $0.code / 100 == 4 } ?? false, "\(path).throttleReplies[\(index)]", "must be a 4xx reply")
            }
            for (index, reply) in (model.blockReplies ?? []).enumerated() {
                check(SMTPReply(parsing: reply).map { $0.code / 100 == 5 } ?? false, "\(path).blockReplies[\(index)]", "must be a 5xx reply")
            }
        }
        for (index, event) in (events ?? []).enumerated() {
            let path = "events[\(index)]"
            check(["mixShift", "pause", "demandChange"].contains(event.type), "\(path).type", "must be mixShift, pause or demandChange")
            check(event.day >= 0 && event.day < days, "\(path).day", "must fall within the scenario's days")
            switch event.type {
            case "mixShift": check(event.mix != nil, "\(path).mix", "a mixShift needs a mix")
            case "pause": check(event.provider != nil && (event.days ?? 0) > 0, path, "a pause needs a provider and days")
            case "demandChange": check(event.messagesPerDay != nil, "\(path).messagesPerDay", "a demandChange needs messagesPerDay")
            default: break
            }
        }
        return problems
    }
}

/// A simulated provider's hidden behaviour.
public struct ProviderModel: Codable, Sendable {
    public init(coldHourly: Double? = nil, warmHourly: Double? = nil, tolerance: Double? = nil, blockFactor: Double? = nil, blockHours: Double? = nil,
                blockPenalty: Double? = nil, growthPerDay: Double? = nil, throttlePenalty: Double? = nil, idleDecayPerDay: Double? = nil,
                idleThreshold: Double? = nil, complaintSensitivity: Double? = nil, bounceSensitivity: Double? = nil, initialReputation: Double? = nil,
                throttleReply: String? = nil, blockReply: String? = nil, userUnknownReply: String? = nil) {
        self.coldHourly = coldHourly; self.warmHourly = warmHourly; self.tolerance = tolerance; self.blockFactor = blockFactor
        self.blockHours = blockHours; self.blockPenalty = blockPenalty; self.growthPerDay = growthPerDay; self.throttlePenalty = throttlePenalty
        self.idleDecayPerDay = idleDecayPerDay; self.idleThreshold = idleThreshold; self.complaintSensitivity = complaintSensitivity
        self.bounceSensitivity = bounceSensitivity; self.initialReputation = initialReputation; self.throttleReply = throttleReply
        self.blockReply = blockReply; self.userUnknownReply = userUnknownReply
    }
    public var coldHourly: Double?
    public var warmHourly: Double?
    public var tolerance: Double?
    public var blockFactor: Double?
    public var blockHours: Double?
    public var blockPenalty: Double?
    public var growthPerDay: Double?
    public var throttlePenalty: Double?
    public var idleDecayPerDay: Double?
    public var idleThreshold: Double?
    public var complaintSensitivity: Double?
    public var bounceSensitivity: Double?
    public var initialReputation: Double?
    public var throttleReply: String?
    public var blockReply: String?
    public var userUnknownReply: String?
    /// When set (not empty), each throttle or block reply is drawn from these instead of
    /// `throttleReply` / `blockReply`: a provider that words the same refusal several ways.
    public var throttleReplies: [String]?
    public var blockReplies: [String]?

    /// The throttle replies this provider draws from.
    var throttleWordings: [String] { throttleReplies.flatMap { $0.isEmpty ? nil : $0 } ?? [throttleReply!] }
    /// The block replies this provider draws from.
    var blockWordings: [String] { blockReplies.flatMap { $0.isEmpty ? nil : $0 } ?? [blockReply!] }

    /// Defaults per provider, with their real reply strings.
    public static func defaults(_ provider: String) -> ProviderModel {
        var m = ProviderModel(
            coldHourly: 20, warmHourly: 50_000, tolerance: 0.1, blockFactor: 3, blockHours: 24, blockPenalty: 0.2, growthPerDay: 0.08,
            throttlePenalty: 0.05, idleDecayPerDay: 0.07, idleThreshold: 0.05, complaintSensitivity: 100, bounceSensitivity: 10,
            initialReputation: 0, throttleReply: ProviderReplies.gmailThrottle, blockReply: ProviderReplies.gmailBlock,
            userUnknownReply: ProviderReplies.gmailUserUnknown)
        switch provider {
        case "microsoft":
            m.warmHourly = 40_000; m.throttleReply = ProviderReplies.microsoftRateLimited; m.blockReply = ProviderReplies.microsoftBlock
            m.userUnknownReply = ProviderReplies.microsoftUserUnknown
        case "yahoo":
            m.coldHourly = 15; m.warmHourly = 30_000; m.throttleReply = ProviderReplies.yahooThrottle; m.blockReply = ProviderReplies.yahooBlock
            m.userUnknownReply = ProviderReplies.yahooUserUnknown
        case "apple":
            m.coldHourly = 10; m.warmHourly = 10_000; m.throttleReply = ProviderReplies.appleThrottle; m.blockReply = ProviderReplies.appleBlock
        case "gmail": break
        default:
            m.coldHourly = 30; m.warmHourly = 20_000; m.throttleReply = "451 4.7.1 Too many messages, slow down"
            m.blockReply = "554 5.7.1 Service unavailable; client host blocked using local policy"
        }
        return m
    }

    /// This model over `base`: the set fields win.
    public func over(_ base: ProviderModel) -> ProviderModel {
        var m = base
        if let v = coldHourly { m.coldHourly = v }
        if let v = warmHourly { m.warmHourly = v }
        if let v = tolerance { m.tolerance = v }
        if let v = blockFactor { m.blockFactor = v }
        if let v = blockHours { m.blockHours = v }
        if let v = blockPenalty { m.blockPenalty = v }
        if let v = growthPerDay { m.growthPerDay = v }
        if let v = throttlePenalty { m.throttlePenalty = v }
        if let v = idleDecayPerDay { m.idleDecayPerDay = v }
        if let v = idleThreshold { m.idleThreshold = v }
        if let v = complaintSensitivity { m.complaintSensitivity = v }
        if let v = bounceSensitivity { m.bounceSensitivity = v }
        if let v = initialReputation { m.initialReputation = v }
        if let v = throttleReply { m.throttleReply = v }
        if let v = blockReply { m.blockReply = v }
        if let v = userUnknownReply { m.userUnknownReply = v }
        if let v = throttleReplies { m.throttleReplies = v }
        if let v = blockReplies { m.blockReplies = v }
        return m
    }
}
