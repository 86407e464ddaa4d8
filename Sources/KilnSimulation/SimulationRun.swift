import KilnCore

/// The state of one simulated run: the engine side (its `Dispatcher`), the providers' side
/// (a `SimulatedPair` per provider and IP), the transport between them, the queues, and
/// what the report counts. `Simulator.run` calls its phases in order.
struct SimulationRun {
    let scenario: Scenario
    let strategy: SimulationStrategy
    let providerIDs: [String]
    let providerKeys: [MailboxProvider]
    let models: [ProviderModel]
    /// The models' numbers an attempt reads, unpacked once.
    let physics: [ProviderPhysics]
    let ips: [String]
    let ipIndex: [String: Int]
    /// A midnight.
    let start = Timestamp(nanoseconds: 1_800_000_000_000_000_000 / Simulator.day * Simulator.day)
    let spillover: Router.Spillover
    let hardBounceRate: Double
    /// `hardBounceRate` as the provider's draw threshold (`SimulatedPair.bounceThreshold`).
    let bounceBelow: UInt64
    let complaintRate: Double
    let weights: [Double]
    let weightSum: Double
    /// The providers' reply texts as the engine classifies them (once: they do not change);
    /// a provider with several wordings draws one per reply.
    let throttleClasses: [[ReplyClassification]]
    let blockClasses: [[ReplyClassification]]
    let bounceClasses: [ReplyClassification]

    // The engine side.
    var dispatcher: Dispatcher
    let keys: [Router.ProviderKey]
    let pool: Router.PoolKey
    /// Per IP index of the router (`router.ipNames`), the index in `ips`.
    let routerIPs: [Int]
    var rng: SeededRandom

    // The providers' side and the transport.
    var pairs: [[SimulatedPair]]
    var transport: SimulatedTransport

    // Demand and queues.
    var queues: [[Cohort]]
    var retries: [[Cohort]]
    var carry: [Double]
    var mix: [String: Double]
    var messagesPerDay: Double
    var pausedUntilDay: [String: Int] = [:]
    var day = 0
    var dayFactor = 1.0
    var mixTotal = 0.0

    // The report.
    var today: [DayRecord] = []
    var records: [DayRecord] = []
    var totals = SimulationTotals()

    init(scenario: Scenario, strategy: SimulationStrategy, model: WarmupModel = WarmupModel()) {
        self.scenario = scenario
        self.strategy = strategy
        rng = SeededRandom(seed: scenario.seed)
        providerIDs = scenario.mix.keys.sorted()
        providerKeys = providerIDs.map { MailboxProvider($0) }
        models = providerIDs.map { id in (scenario.providers?[id] ?? ProviderModel()).over(ProviderModel.defaults(id)) }
        physics = models.map(ProviderPhysics.init)
        ips = (0..<scenario.pool.maxIPs).map { "10.0.\($0 / 250).\($0 % 250 + 1)" }
        ipIndex = Dictionary(uniqueKeysWithValues: ips.enumerated().map { ($1, $0) })
        hardBounceRate = scenario.list?.hardBounceRate ?? 0
        bounceBelow = SimulatedPair.bounceThreshold(hardBounceRate)
        complaintRate = scenario.list?.complaintRate ?? 0
        weights = (scenario.demand.hourlyProfile ?? .named("business")).weights!
        weightSum = weights.reduce(0, +)
        // Each wording read once, as the dispatcher's reader reads a reply from that provider.
        let reader = ReplyReader()
        let read = { (wording: String, id: String) in reader.read(SMTPReply(parsing: wording)!, provider: MailboxProvider(id)).classification }
        throttleClasses = zip(models, providerIDs).map { model, id in model.throttleWordings.map { read($0, id) } }
        blockClasses = zip(models, providerIDs).map { model, id in model.blockWordings.map { read($0, id) } }
        bounceClasses = zip(models, providerIDs).map { model, id in read(model.userUnknownReply!, id) }

        // `none` has no warm-up, so nothing tells it the pool is cold: it sends everything
        // from its own IPs and only reacts to the replies (a throttle defers the message and
        // rests the pair for the provider's backoff), as an MTA without warm-up does.
        spillover = strategy == .none ? .never : scenario.pool.spillover ?? .whileWarming
        let poolConfig = Router.Pool(name: "sim", ips: ips, minIPs: scenario.pool.minIPs ?? scenario.pool.initialIPs,
                                     maxIPs: scenario.pool.maxIPs, scaling: .managed, spillover: spillover)
        let shared = spillover == .never ? nil : Router.SharedPool(dailyLimit: scenario.pool.sharedDailyLimit)
        let strategies: [String: WarmupStrategy]
        var overrides: [String: ProviderProfile.Override] = [:]
        switch strategy {
        case .fixed("ses45"): strategies = ["sim": .schedule(.ses45)]
        case .fixed(let name) where name == "stages30": strategies = ["sim": .schedule(.stages30)]
        case .none:
            strategies = [:]
            for id in providerIDs { overrides[id] = .init(coldHourly: 1e9, warmHourly: 1e10) }
        default: strategies = ["sim": .adaptive(model)]
        }
        let profileOverrides = overrides
        // The engine's own dispatcher: routing, expiry, reply handling, pool planning.
        let maxAge = Duration.saturatingSeconds((scenario.maxMessageAgeHours ?? 72) * 3600)
        dispatcher = Dispatcher(
            router: Router(pools: [poolConfig], sharedPool: shared, strategies: strategies, now: start,
                           profiles: { ProviderProfile.resolve($0, overrides: profileOverrides) }),
            retry: RetryPolicy(maxMessageAge: maxAge), reader: reader)
        var keys: [Router.ProviderKey] = []
        for id in providerIDs { keys.append(dispatcher.key(for: MailboxProvider(id))) }
        self.keys = keys
        pool = dispatcher.key(forPool: "sim")!
        let simIndex = ipIndex
        routerIPs = dispatcher.router.ipNames.map { simIndex[$0]! }
        if scenario.pool.initialIPs > (scenario.pool.minIPs ?? scenario.pool.initialIPs) {
            dispatcher.apply(PoolPlan(pool: "sim", add: Array(ips[1..<scenario.pool.initialIPs])), now: start)
        }

        pairs = models.map { m in Array(repeating: SimulatedPair(reputation: m.initialReputation ?? 0), count: scenario.pool.maxIPs) }
        transport = SimulatedTransport(
            connections: providerIDs.map { ProviderProfile.resolve(MailboxProvider($0), overrides: profileOverrides).maxConnections },
            ips: ips.count)
        queues = Array(repeating: [], count: providerIDs.count)
        retries = Array(repeating: [], count: providerIDs.count)
        carry = Array(repeating: 0, count: providerIDs.count)
        mix = scenario.mix
        messagesPerDay = scenario.demand.messagesPerDay
    }

    // MARK: Days and hours

    /// The day's scenario events, its demand factor and a fresh report row per provider.
    mutating func startDay(_ day: Int) {
        self.day = day
        for event in scenario.events ?? [] where event.day == day {
            switch event.type {
            case "mixShift": mix = event.mix ?? mix
            case "pause": pausedUntilDay[event.provider ?? ""] = day + (event.days ?? 0)
            case "demandChange": messagesPerDay = event.messagesPerDay ?? messagesPerDay
            default: break
            }
        }
        mixTotal = providerIDs.reduce(0.0) { $0 + (mix[$1] ?? 0) }
        let weekday = (day + 4) % 7  // day 0 is a Thursday
        dayFactor = (weekday == 5 || weekday == 6 ? scenario.demand.weekendFactor ?? 1 : 1)
            * pow(1 + (scenario.demand.growthPerDay ?? 0), Double(day))
        today = providerIDs.enumerated().map { DayRecord(day: day, provider: $1) }
    }

    /// The providers open a new hour; the hour's new demand arrives, spread over its minutes.
    mutating func startHour(_ hour: Int, at hourStart: Int64) {
        for p in providerIDs.indices {
            for i in pairs[p].indices { pairs[p][i].startHour() }
        }
        for (p, id) in providerIDs.enumerated() {
            if let until = pausedUntilDay[id], day < until { continue }
            let wanted = messagesPerDay * dayFactor * (mix[id] ?? 0) / mixTotal * weights[hour] / weightSum + carry[p]
            let count = Int(saturating: wanted)
            carry[p] = wanted - Double(count)
            guard count > 0 else { continue }
            today[p].demand += count
            let perMinute = count / 60, extra = count % 60
            for m in 0..<60 where perMinute > 0 || m < extra {
                let t = hourStart + Int64(m) * Simulator.minute
                queues[p].append(Cohort(count: perMinute + (m < extra ? 1 : 0), created: t, due: t, attempts: 0))
            }
            queues[p] = Simulator.merge(queues[p])
        }
    }

    /// Once an hour, the dispatcher plans the pool from the backlog, as in the engine.
    mutating func planPools(at hourStart: Int64) {
        var backlog: [MailboxProvider: Int] = [:]
        for (p, key) in providerKeys.enumerated() { backlog[key] = queues[p].reduce(0) { $0 + $1.count } }
        _ = dispatcher.planPools(backlog: backlog, now: Timestamp(nanoseconds: hourStart))
    }

    /// End of day: the providers judge each pair; the report records the day.
    mutating func endDay() {
        let active: [String]
        if case .oracle = strategy {
            active = ips
        } else {
            active = dispatcher.router.activeIPs(pool: "sim")
        }
        totals.ipDays += active.count
        for (p, id) in providerIDs.enumerated() {
            let m = models[p]
            for i in pairs[p].indices { pairs[p][i].endDay(m, complaintRate: complaintRate) }
            today[p].backlog = queues[p].reduce(0) { $0 + $1.count }
            today[p].ips = active.count
            let levels: [Double] = active.map { ip -> Double in
                if case .oracle = strategy { return pairs[p][ipIndex[ip]!].reputation }
                return dispatcher.router.warmup(ip: ip, provider: MailboxProvider(id))?.level ?? 0
            }
            today[p].warmupPercent = levels.isEmpty ? 0 : 100 * levels.reduce(0, +) / Double(levels.count)
        }
        records += today
    }

    /// The summary; messages still waiting count with their age at `end`.
    func summary(end: Int64) -> StrategySummary {
        var totals = totals
        for p in providerIDs.indices {
            for cohort in queues[p] + retries[p] { totals.delivered(cohort.count, after: end - cohort.created) }
        }
        return StrategySummary(strategy: strategy, records: records, providerIDs: providerIDs, totals: totals)
    }
}

import Glibc
