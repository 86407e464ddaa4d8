import KilnCore

/// Drives the engine's own `Dispatcher` — the router (token buckets, warm-up, spill-over),
/// expiry, reply handling with `AttemptDisposition` and `RetryPolicy`, pool planning —
/// minute by minute of virtual time against simulated providers that answer with real
/// SMTP replies, through a transport like the engine's. The engine side sees only the
/// replies.
public struct Simulator: Sendable {
    public let scenario: Scenario
    /// The adaptive strategy's parameters (the engine's defaults unless tried otherwise).
    public var model: WarmupModel

    public init(scenario: Scenario, model: WarmupModel = WarmupModel()) {
        self.scenario = scenario
        self.model = model
    }

    static let minute: Int64 = 60_000_000_000
    static let hour: Int64 = 60 * minute
    static let day: Int64 = 24 * hour

    /// Runs the whole scenario with one strategy: per day, the scenario's events, then per
    /// hour new demand, the minutes (or the oracle's hour) and the pool plan, then the
    /// providers' daily judgement.
    public func run(_ strategy: SimulationStrategy) -> SimulationResult {
        var run = SimulationRun(scenario: scenario, strategy: strategy, model: model)
        for day in 0..<scenario.days {
            run.startDay(day)
            for hour in 0..<24 {
                let hourStart = run.start.nanoseconds + Int64(day) * Self.day + Int64(hour) * Self.hour
                run.startHour(hour, at: hourStart)
                if case .oracle = strategy {
                    run.sendAtCapacity(hourStart: hourStart)
                } else {
                    for minute in 0..<60 {
                        for p in run.providerIDs.indices { run.runMinute(p, start: hourStart + Int64(minute) * Self.minute) }
                    }
                    run.planPools(at: hourStart)
                }
            }
            run.endDay()
        }
        return SimulationResult(strategy: strategy, days: run.records, summary: run.summary(end: run.start.nanoseconds + Int64(scenario.days) * Self.day))
    }

    /// Cohorts in due order, those with the same creation, due time and attempts merged.
    static func merge(_ cohorts: [Cohort]) -> [Cohort] {
        var merged: [Cohort] = []
        for cohort in cohorts.sorted(by: { ($0.due, $0.created) < ($1.due, $1.created) }) {
            if let last = merged.last, last.due == cohort.due, last.created == cohort.created, last.attempts == cohort.attempts {
                merged[merged.count - 1].count += cohort.count
            } else {
                merged.append(cohort)
            }
        }
        return merged
    }
}

/// Messages created at the same minute with the same number of failed attempts, waiting
/// for the same minute.
struct Cohort {
    var count: Int
    var created: Int64
    var due: Int64
    var attempts: Int
}

/// Running totals over the whole run.
struct SimulationTotals {
    var dedicated = 0
    var shared = 0
    var throttles = 0
    var dedicatedAttempts = 0
    var blockEpisodes = 0
    var expired = 0
    var ipDays = 0
    /// Messages by whole minutes from submit to delivery (dedicated or spilled), to
    /// expiry, or, for those still waiting when the run ends, to the end: the p95 of all
    /// messages, so a plan that holds mail back shows the delay it causes. The last
    /// bucket holds 30 days and more.
    var latency = Array(repeating: 0, count: 60 * 24 * 30 + 1)

    mutating func delivered(_ count: Int = 1, after queued: Int64) {
        latency[min(latency.count - 1, Int(max(0, queued) / Simulator.minute))] += count
    }
}
