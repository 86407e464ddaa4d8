import KilnCore

/// How the simulated sender paces itself.
public enum SimulationStrategy: Hashable, Sendable, CustomStringConvertible {
    /// The engine's adaptive warm-up with its own default provider profiles.
    case adaptive
    /// A fixed plan (`ses45`, `stages30`).
    case fixed(String)
    /// No warm-up limits: it only reacts to replies.
    case none
    /// The upper bound: reads the providers' hidden state and sends exactly at capacity.
    case oracle

    public init?(_ text: String) {
        switch text {
        case "adaptive": self = .adaptive
        case "none": self = .none
        case "oracle": self = .oracle
        case "fixed:ses45": self = .fixed("ses45")
        case "fixed:stages30": self = .fixed("stages30")
        default: return nil
        }
    }

    public var description: String {
        switch self {
        case .adaptive: "adaptive"
        case .fixed(let name): "fixed:\(name)"
        case .none: "none"
        case .oracle: "oracle"
        }
    }

    public static let all: [SimulationStrategy] = [.adaptive, .fixed("ses45"), .fixed("stages30"), .none, .oracle]
}

/// One day of one provider.
public struct DayRecord: Sendable, Hashable {
    public var day: Int
    public var provider: String
    public var demand = 0
    public var dedicated = 0
    public var spilled = 0
    public var backlog = 0
    public var throttled = 0
    public var blocked = 0
    public var expired = 0
    public var bounced = 0
    public var warmupPercent = 0.0
    public var ips = 0
}

/// What a strategy achieved over a scenario.
public struct StrategySummary: Sendable, Codable, Hashable {
    public var strategy: String
    public var dedicatedShare: Double
    public var throttleRate: Double
    public var blocks: Int
    public var expired: Int
    public var daysToFull: [String: Int?]
    public var ipDays: Int
    /// The 95th percentile of the time from submit to delivery over all messages (dedicated,
    /// spilled; expired and still waiting at the end count with their age), in hours.
    public var p95QueueHours: Double
}

extension StrategySummary {
    /// The summary of a run: the share delivered from dedicated IPs, the throttle rate of
    /// dedicated attempts, block episodes, expiries, IP-days, the 95th percentile of
    /// queueing time, and per provider the first day that starts three days in a row with
    /// ≥ 95 % of the demand sent from dedicated IPs.
    init(strategy: SimulationStrategy, records: [DayRecord], providerIDs: [String], totals: SimulationTotals) {
        var daysToFull: [String: Int?] = [:]
        for id in providerIDs {
            let rows = records.filter { $0.provider == id }
            var found: Int?
            for d in rows.indices where d + 2 < rows.count {
                if (d...(d + 2)).allSatisfy({ rows[$0].demand == 0 || Double(rows[$0].dedicated) >= 0.95 * Double(rows[$0].demand) }),
                   (d...(d + 2)).contains(where: { rows[$0].demand > 0 }) {
                    found = d
                    break
                }
            }
            daysToFull[id] = found
        }
        let delivered = totals.dedicated + totals.shared
        var p95 = 0.0
        let total = totals.latency.reduce(0, +)
        var running = 0
        for (minutes, count) in totals.latency.enumerated() {
            running += count
            if Double(running) >= 0.95 * Double(total) { p95 = (Double(minutes) / 60 * 100).rounded() / 100; break }
        }
        self.init(
            strategy: strategy.description, dedicatedShare: delivered > 0 ? Double(totals.dedicated) / Double(delivered) : 0,
            throttleRate: totals.dedicatedAttempts > 0 ? Double(totals.throttles) / Double(totals.dedicatedAttempts) : 0,
            blocks: totals.blockEpisodes, expired: totals.expired, daysToFull: daysToFull, ipDays: totals.ipDays, p95QueueHours: p95)
    }
}

public struct SimulationResult: Sendable {
    public var strategy: SimulationStrategy
    public var days: [DayRecord]
    public var summary: StrategySummary
}
