import DequeModule
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
    public var p95QueueHours: Double
}

public struct SimulationResult: Sendable {
    public var strategy: SimulationStrategy
    public var days: [DayRecord]
    public var summary: StrategySummary
}

/// Drives the engine's real core — `Router` (token buckets, warm-up tracker, spill-over),
/// reply classification, `AttemptDisposition` and `RetryPolicy`, `PoolPlanner` — minute
/// by minute of virtual time against simulated providers that answer with real SMTP
/// replies. The engine side sees only the replies.
public struct Simulator: Sendable {
    public let scenario: Scenario

    public init(scenario: Scenario) { self.scenario = scenario }

    /// Messages created at the same minute with the same number of failed attempts,
    /// waiting for the same minute.
    struct Cohort {
        var count: Int
        var created: Int64
        var due: Int64
        var attempts: Int
    }

    /// A reply not yet back: the attempt's transaction ends at `at`.
    struct PendingReply {
        var at: Int64
        var ip: Int
        var outcome: SimulatedPair.Outcome
        var created: Int64
        var attempts: Int
    }

    /// One message's SMTP transaction on an open connection (MAIL, RCPT, DATA and the
    /// reply): 0.2 s, so five connections carry 90,000 an hour.
    static let transactionTime: Int64 = 200_000_000
    /// Attempts routed and not yet answered, per provider (the engine's default in flight).
    static let maxInFlight = 256

    static let minute: Int64 = 60_000_000_000
    static let hour: Int64 = 60 * minute
    static let day: Int64 = 24 * hour

    public func run(_ strategy: SimulationStrategy) -> SimulationResult {
        var rng = SeededRandom(seed: scenario.seed)
        let providerIDs = scenario.mix.keys.sorted()
        let models = providerIDs.map { id in (scenario.providers?[id] ?? ProviderModel()).over(ProviderModel.defaults(id)) }
        let ips = (0..<scenario.pool.maxIPs).map { "10.0.\($0 / 250).\($0 % 250 + 1)" }
        let start = Timestamp(nanoseconds: 1_800_000_000_000_000_000 / Self.day * Self.day)  // a midnight
        let maxAge = Duration.saturatingSeconds((scenario.maxMessageAgeHours ?? 72) * 3600)
        let retry = RetryPolicy(maxMessageAge: maxAge)
        let hardBounceRate = scenario.list?.hardBounceRate ?? 0
        let complaintRate = scenario.list?.complaintRate ?? 0

        // The engine side.
        // `none` has no warm-up, so nothing tells it the pool is cold: it sends everything
        // from its own IPs and only reacts to the replies (a throttle defers the message and
        // rests the pair for the provider's backoff), as an MTA without warm-up does.
        let spillover: Configuration.Spillover = strategy == .none ? .never : scenario.pool.spillover ?? .whileWarming
        let poolConfig = Configuration.Pool(name: "sim", ips: ips, minIPs: scenario.pool.minIPs ?? scenario.pool.initialIPs,
                                            maxIPs: scenario.pool.maxIPs, scaling: .managed, spillover: spillover)
        let shared = spillover == .never ? nil : Configuration.SharedPool(url: "smtp://shared.invalid", dailyLimit: scenario.pool.sharedDailyLimit)
        let strategies: [String: WarmupStrategy]
        var profileOverrides: [String: Configuration.ProviderProfileOverride] = [:]
        switch strategy {
        case .fixed("ses45"): strategies = ["sim": .schedule(.ses45)]
        case .fixed(let name) where name == "stages30": strategies = ["sim": .schedule(.stages30)]
        case .none:
            strategies = [:]
            for id in providerIDs { profileOverrides[id] = .init(coldHourly: 1e9, warmHourly: 1e10) }
        default: strategies = [:]
        }
        let overrides = profileOverrides
        var router = Router(pools: [poolConfig], sharedPool: shared, strategies: strategies, now: start,
                            profiles: { ProviderProfile.resolve($0, overrides: overrides) })
        let keys = providerIDs.map { router.key(for: MailboxProvider($0)) }
        let pool = router.key(forPool: "sim")!
        var planner = PoolPlanner()
        if scenario.pool.initialIPs > (scenario.pool.minIPs ?? scenario.pool.initialIPs) {
            router.apply(PoolPlan(pool: "sim", add: Array(ips[1..<scenario.pool.initialIPs])), now: start)
        }
        let ipIndex = Dictionary(uniqueKeysWithValues: ips.enumerated().map { ($1, $0) })

        // The providers' side.
        var pairs = models.map { m in Array(repeating: SimulatedPair(reputation: m.initialReputation ?? 0), count: ips.count) }
        // The providers' reply texts as the engine classifies them (once: they do not change).
        let throttleClasses = models.map { SMTPReply(parsing: $0.throttleReply!)!.classification }
        let blockClasses = models.map { SMTPReply(parsing: $0.blockReply!)!.classification }
        let bounceClasses = models.map { SMTPReply(parsing: $0.userUnknownReply!)!.classification }
        func capacity(_ p: Int, _ r: Double) -> Double { models[p].capacity(reputation: r) }

        var queues = Array(repeating: [Cohort](), count: providerIDs.count)
        var records: [DayRecord] = []
        var carry = Array(repeating: 0.0, count: providerIDs.count)
        var mix = scenario.mix
        var messagesPerDay = scenario.demand.messagesPerDay
        var pausedUntilDay: [String: Int] = [:]
        let weights = (scenario.demand.hourlyProfile ?? .named("business")).weights!
        let weightSum = weights.reduce(0, +)
        var latencyHistogram = Array(repeating: 0, count: 24 * 30)
        var totalDedicated = 0, totalShared = 0, totalThrottles = 0, totalDedicatedAttempts = 0, blockEpisodes = 0, totalExpired = 0
        var ipDays = 0

        // The transport between the engine and the providers, as in the engine: routed
        // attempts queue for the pair's connections (the engine's `maxConnections` for the
        // provider), each transaction takes `transactionTime`, and a reply reaches the
        // router only when its transaction ends. At most `maxInFlight` attempts per provider
        // are routed and not yet answered. A sender that routes more than a pair can take
        // learns of it only after the attempts already queued have gone out.
        let connections = providerIDs.map { ProviderProfile.resolve(MailboxProvider($0), overrides: overrides).maxConnections }
        let stride = connections.max() ?? 1
        // When each connection of each pair is free again: [(p × IPs + i) × stride + c].
        var connectionFree = Array(repeating: Int64.min, count: providerIDs.count * ips.count * stride)
        // When the attempts in flight end, per provider (for the in-flight bound).
        var inFlight = providerIDs.map { _ in Deque<Int64>() }
        // The refusals not yet back, per provider, by the time they come back.
        var refusals = providerIDs.map { _ in Deque<PendingReply>() }
        var retries = Array(repeating: [Cohort](), count: providerIDs.count)
        let providerKeys = providerIDs.map { MailboxProvider($0) }

        /// Hands the refusals whose transactions ended by `time` to the engine's bookkeeping.
        func deliverReplies(_ p: Int, until time: Int64, into today: inout [DayRecord]) {
            while let reply = refusals[p].first, reply.at <= time {
                refusals[p].removeFirst()
                let now = Timestamp(nanoseconds: reply.at)
                if reply.outcome == .userUnknown {
                    router.record(bounceClasses[p], ip: ips[reply.ip], provider: providerKeys[p], now: now)
                    continue
                }
                let classification = reply.outcome == .throttled ? throttleClasses[p] : blockClasses[p]
                let resumeAt = router.record(classification, ip: ips[reply.ip], provider: providerKeys[p], now: now)
                let disposition = AttemptDisposition.decide(
                    classification: classification, failedAttempts: reply.attempts + 1, createdAt: Timestamp(nanoseconds: reply.created), now: now,
                    resumeAt: resumeAt, policy: retry, using: &rng)
                switch disposition {
                case .retry(let at):
                    retries[p].append(Cohort(count: 1, created: reply.created, due: at.nanoseconds, attempts: reply.attempts + 1))
                case .expired:
                    today[p].expired += 1
                    totalExpired += 1
                case .delivered, .bounced:
                    today[p].bounced += 1
                }
            }
        }

        for day in 0..<scenario.days {
            for event in scenario.events ?? [] where event.day == day {
                switch event.type {
                case "mixShift": mix = event.mix ?? mix
                case "pause": pausedUntilDay[event.provider ?? ""] = day + (event.days ?? 0)
                case "demandChange": messagesPerDay = event.messagesPerDay ?? messagesPerDay
                default: break
                }
            }
            let mixTotal = providerIDs.reduce(0.0) { $0 + (mix[$1] ?? 0) }
            let weekday = (day + 4) % 7  // day 0 is a Thursday
            let dayFactor = (weekday == 5 || weekday == 6 ? scenario.demand.weekendFactor ?? 1 : 1)
                * pow(1 + (scenario.demand.growthPerDay ?? 0), Double(day))
            var today = providerIDs.enumerated().map { DayRecord(day: day, provider: $1) }

            for hour in 0..<24 {
                let hourStart = start.nanoseconds + Int64(day) * Self.day + Int64(hour) * Self.hour
                for p in providerIDs.indices {
                    for i in pairs[p].indices { pairs[p][i].startHour() }
                }
                // New demand, spread over the hour's minutes.
                for (p, id) in providerIDs.enumerated() {
                    if let until = pausedUntilDay[id], day < until { continue }
                    let wanted = messagesPerDay * dayFactor * (mix[id] ?? 0) / mixTotal * weights[hour] / weightSum + carry[p]
                    let count = Int(saturating: wanted)
                    carry[p] = wanted - Double(count)
                    guard count > 0 else { continue }
                    today[p].demand += count
                    let perMinute = count / 60, extra = count % 60
                    for m in 0..<60 where perMinute > 0 || m < extra {
                        let t = hourStart + Int64(m) * Self.minute
                        queues[p].append(Cohort(count: perMinute + (m < extra ? 1 : 0), created: t, due: t, attempts: 0))
                    }
                    queues[p] = Self.merge(queues[p])
                }

                if case .oracle = strategy {
                    // Exactly at capacity, every IP, each hour; the rest spills or waits.
                    for p in providerIDs.indices {
                        var budget = pairs[p].indices.reduce(0) { $0 + (pairs[p][$1].blockedUntil > hourStart ? 0 : Int(saturating: capacity(p, pairs[p][$1].reputation))) }
                        var i = 0
                        var due = 0
                        for c in queues[p] where c.due < hourStart + Self.hour { due += c.count }
                        let send = min(due, budget)
                        budget = send
                        var remaining = send
                        var bouncedNow = 0
                        while remaining > 0, i < pairs[p].count {
                            let take = min(remaining, Int(saturating: capacity(p, pairs[p][i].reputation)))
                            pairs[p][i].dayAccepted += take
                            pairs[p][i].dayAttempted += take
                            pairs[p][i].hourAccepted += take
                            // The list is the same for every strategy: so are its bad addresses.
                            pairs[p][i].dayBounced += Int(saturating: (Double(take) * hardBounceRate).rounded())
                            bouncedNow += Int(saturating: (Double(take) * hardBounceRate).rounded())
                            remaining -= take
                            i += 1
                        }
                        let spill = spillover == .never ? 0 : due - send
                        var toRemove = send + spill
                        today[p].dedicated += send - bouncedNow
                        today[p].bounced += bouncedNow
                        today[p].spilled += spill
                        totalDedicated += send - bouncedNow
                        totalShared += spill
                        totalDedicatedAttempts += send
                        var kept: [Cohort] = []
                        for var c in queues[p] {
                            if toRemove > 0, c.due < hourStart + Self.hour {
                                let n = min(toRemove, c.count)
                                toRemove -= n
                                c.count -= n
                                latencyHistogram[min(latencyHistogram.count - 1, Int((hourStart - c.created) / Self.hour))] += n
                            }
                            if c.count > 0 { kept.append(c) }
                        }
                        queues[p] = kept
                    }
                } else {
                    for minute in 0..<60 {
                        let minuteStart = hourStart + Int64(minute) * Self.minute
                        let minuteEnd = minuteStart + Self.minute
                        for p in providerIDs.indices {
                            let model = models[p]  // once, not once a message: it holds strings
                            defer {
                                deliverReplies(p, until: minuteEnd - 1, into: &today)
                                if !retries[p].isEmpty {
                                    queues[p] = Self.merge(queues[p] + retries[p])
                                    retries[p].removeAll(keepingCapacity: true)
                                }
                            }
                            // The queue is kept in due order: the due cohorts lead.
                            var dueCount = 0
                            for cohort in queues[p] {
                                guard cohort.due < minuteEnd else { break }
                                dueCount += cohort.count
                            }
                            guard dueCount > 0 else { continue }
                            // Messages arrive spread over the minute, as a continuous stream
                            // would reach the dispatcher; a deferral inside the minute is
                            // followed to the refill.
                            let spacing = Self.minute / Int64(dueCount)
                            var clock = minuteStart
                            var k = 0
                            var index = 0
                            var stopped = false
                            while index < queues[p].count, queues[p][index].due < minuteEnd, !stopped {
                                var cohort = queues[p][index]
                                if Timestamp(nanoseconds: minuteStart) - Timestamp(nanoseconds: cohort.created) >= maxAge {
                                    today[p].expired += cohort.count
                                    totalExpired += cohort.count
                                    k += cohort.count
                                    queues[p][index].count = 0
                                    index += 1
                                    continue
                                }
                                while cohort.count > 0 {
                                    clock = max(clock, minuteStart + Int64(k) * spacing, cohort.due)
                                    if let first = refusals[p].first, first.at <= clock { deliverReplies(p, until: clock, into: &today) }
                                    while let first = inFlight[p].first, first <= clock { inFlight[p].removeFirst() }
                                    if inFlight[p].count >= Self.maxInFlight, let first = inFlight[p].first {
                                        // The dispatcher waits for a transaction to end.
                                        clock = max(clock, first)
                                        if clock < minuteEnd { deliverReplies(p, until: clock, into: &today) }
                                        continue
                                    }
                                    guard clock < minuteEnd else { stopped = true; break }
                                    let now = Timestamp(nanoseconds: clock)
                                    let decision = router.route(keys[p], pool: pool, now: now)
                                    switch decision {
                                    case .deferred(let until):
                                        if until.nanoseconds < minuteEnd {
                                            clock = max(clock + 1, until.nanoseconds)
                                            continue
                                        }
                                        // Capacity deferral: wait for the refill (not a failed attempt).
                                        stopped = true
                                        let due = until.nanoseconds
                                        if cohort.count > 0 { cohort.due = max(cohort.due, due) }
                                    case .shared:
                                        cohort.count -= 1
                                        k += 1
                                        today[p].spilled += 1
                                        totalShared += 1
                                        latencyHistogram[min(latencyHistogram.count - 1, Int((clock - cohort.created) / Self.hour))] += 1
                                    case .dedicated(let ip):
                                        let i = ipIndex[ip]!
                                        cohort.count -= 1
                                        k += 1
                                        totalDedicatedAttempts += 1
                                        // The pair's first free connection takes it; the provider answers as the transaction starts.
                                        let base = (p * ips.count + i) * stride
                                        var free = base
                                        for c in base..<(base + connections[p]) where connectionFree[c] < connectionFree[free] { free = c }
                                        let begins = max(clock, connectionFree[free])
                                        let ends = begins + Self.transactionTime
                                        connectionFree[free] = ends
                                        let outcome = pairs[p][i].attempt(model, at: begins, hardBounceRate: hardBounceRate, using: &rng)
                                        switch outcome {
                                        case .accepted:
                                            today[p].dedicated += 1
                                            totalDedicated += 1
                                            latencyHistogram[min(latencyHistogram.count - 1, Int((begins - cohort.created) / Self.hour))] += 1
                                        case .userUnknown:
                                            today[p].bounced += 1
                                        case .throttled:
                                            today[p].throttled += 1
                                            totalThrottles += 1
                                        case .blocked(let newEpisode):
                                            if newEpisode { blockEpisodes += 1 }
                                            today[p].blocked += 1
                                        }
                                        inFlight[p].append(ends)
                                        if outcome != .accepted {
                                            // Kept in the order they come back: a pair with a longer queue answers later.
                                            let reply = PendingReply(at: ends, ip: i, outcome: outcome, created: cohort.created, attempts: cohort.attempts)
                                            var position = refusals[p].endIndex
                                            while position > refusals[p].startIndex, refusals[p][position - 1].at > ends { position -= 1 }
                                            refusals[p].insert(reply, at: position)
                                        }
                                    }
                                    if stopped { break }
                                }
                                queues[p][index] = cohort
                                index += 1
                            }
                            // Still in due order: only emptied cohorts go.
                            queues[p].removeAll { $0.count == 0 }
                        }
                    }
                }
                // The pool planner, once an hour, as in the engine.
                if case .oracle = strategy {} else {
                    let view = router.poolView("sim", now: Timestamp(nanoseconds: hourStart))!
                    var demand: [MailboxProvider: Double] = [:]
                    for (p, id) in providerIDs.enumerated() {
                        demand[MailboxProvider(id)] = Double(queues[p].reduce(0) { $0 + $1.count }) / 24
                    }
                    for ip in view.ips where ip.active {
                        for (provider, pair) in ip.pairs { demand[provider, default: 0] += pair.sentThisHour }
                    }
                    let plan = planner.plan(view, demand: demand)
                    if !plan.isEmpty { router.apply(plan, now: Timestamp(nanoseconds: hourStart)) }
                }
            }

            // End of day: the providers judge each pair; the report records the day.
            let dayEnd = Timestamp(nanoseconds: start.nanoseconds + Int64(day + 1) * Self.day)
            let active: [String]
            if case .oracle = strategy {
                active = ips
            } else {
                active = router.activeIPs(pool: "sim")
            }
            ipDays += active.count
            for (p, id) in providerIDs.enumerated() {
                let m = models[p]
                for i in pairs[p].indices { pairs[p][i].endDay(m, complaintRate: complaintRate) }
                today[p].backlog = queues[p].reduce(0) { $0 + $1.count }
                today[p].ips = active.count
                let levels: [Double] = active.map { ip -> Double in
                    if case .oracle = strategy { return pairs[p][ipIndex[ip]!].reputation }
                    return router.warmup(ip: ip, provider: MailboxProvider(id))?.level ?? 0
                }
                today[p].warmupPercent = levels.isEmpty ? 0 : 100 * levels.reduce(0, +) / Double(levels.count)
                _ = dayEnd
            }
            records += today
        }

        // Summary.
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
        let delivered = totalDedicated + totalShared
        var p95 = 0.0
        let total = latencyHistogram.reduce(0, +)
        var running = 0
        for (hours, count) in latencyHistogram.enumerated() {
            running += count
            if Double(running) >= 0.95 * Double(total) { p95 = Double(hours); break }
        }
        let summary = StrategySummary(
            strategy: strategy.description, dedicatedShare: delivered > 0 ? Double(totalDedicated) / Double(delivered) : 0,
            throttleRate: totalDedicatedAttempts > 0 ? Double(totalThrottles) / Double(totalDedicatedAttempts) : 0,
            blocks: blockEpisodes, expired: totalExpired, daysToFull: daysToFull, ipDays: ipDays, p95QueueHours: p95)
        return SimulationResult(strategy: strategy, days: records, summary: summary)
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

/// A provider's hidden state for one IP, and its rules (issue 5's model, exactly).
public struct SimulatedPair: Sendable, Hashable {
    public enum Outcome: Sendable, Hashable {
        case accepted
        case userUnknown
        case throttled
        /// `true` when this attempt started the block.
        case blocked(newEpisode: Bool)
    }

    public var reputation: Double
    var hourAttempts = 0
    var hourAccepted = 0
    var blockedUntil: Int64 = .min
    var dayAccepted = 0
    var dayAttempted = 0
    var dayThrottled = 0
    var dayBounced = 0

    public init(reputation: Double) { self.reputation = reputation }

    public mutating func startHour() {
        hourAttempts = 0
        hourAccepted = 0
    }

    /// One attempt at `time` (nanoseconds): blocked while a block lasts; a block when the
    /// hour's attempts pass `cap × blockFactor`; a throttle once `cap × (1 + tolerance)`
    /// were accepted this hour; else accepted (a share of them unknown users).
    public mutating func attempt(_ m: ProviderModel, at time: Int64, hardBounceRate: Double, using rng: inout some RandomNumberGenerator) -> Outcome {
        hourAttempts += 1
        dayAttempted += 1
        let cap = m.capacity(reputation: reputation)
        if blockedUntil > time { return .blocked(newEpisode: false) }
        if Double(hourAttempts) > cap * m.blockFactor! {
            blockedUntil = time &+ Int64(saturating: m.blockHours! * 3600 * 1e9)
            reputation = max(0, reputation - m.blockPenalty!)
            return .blocked(newEpisode: true)
        }
        if Double(hourAccepted) >= cap * (1 + m.tolerance!) {
            dayThrottled += 1
            return .throttled
        }
        hourAccepted += 1
        dayAccepted += 1
        if Double.random(in: 0..<1, using: &rng) < hardBounceRate {
            dayBounced += 1
            return .userUnknown
        }
        return .accepted
    }

    /// The daily judgement: use of capacity with clean feedback raises the reputation,
    /// throttles and idleness lower it.
    public mutating func endDay(_ m: ProviderModel, complaintRate: Double) {
        let cap = m.capacity(reputation: reputation)
        let u = min(1, Double(dayAccepted) / (24 * cap))
        let bounceRate = dayAccepted > 0 ? Double(dayBounced) / Double(dayAccepted) : 0
        let q = max(0, 1 - m.complaintSensitivity! * (dayAccepted > 0 ? complaintRate : 0) - m.bounceSensitivity! * bounceRate)
        reputation += m.growthPerDay! * u * q
            - m.throttlePenalty! * Double(dayThrottled) / Double(max(dayAttempted, 1))
            - m.idleDecayPerDay! * max(0, m.idleThreshold! - u) / m.idleThreshold!
        reputation = min(1, max(0, reputation))
        dayAccepted = 0
        dayAttempted = 0
        dayThrottled = 0
        dayBounced = 0
    }

    public var isBlocked: Bool { blockedUntil > .min }
}

extension ProviderModel {
    /// `cap(r) = coldHourly × (warmHourly / coldHourly)^r`.
    public func capacity(reputation r: Double) -> Double {
        coldHourly! * pow(warmHourly! / coldHourly!, r)
    }
}

/// A small, seedable generator (SplitMix64): the same seed gives the same run.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
