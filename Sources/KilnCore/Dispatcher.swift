/// Every delivery decision taken around an attempt, as a state machine with no I/O: the
/// engine (`DeliverySession`) and the simulation bench (`Simulator`) drive this same type
/// and execute what it returns, so what the bench shows is what the engine does.
///
/// | input | decision | where |
/// |---|---|---|
/// | a message is due | expire it, or route it: send from an IP / through the shared relay, or defer to the refill; past half its maximum age, through the relay if the pool spills at all | `decide(provider:pool:createdAt:now:)` |
/// | a deferral in a leased batch | queue it one token interval behind the previous one; stop leasing the provider until the refill | `deferral(provider:pool:until:now:)` |
/// | what to lease | every provider but those whose capacity is used up | `exhaustedProviders(now:)` |
/// | a reply arrives | read it, once (operator rules, then the built-in table), and order its lane: withdraw and hold it after a throttle or a block, cap its messages per connection after a session limit | `reader.read(_:provider:messagesOnConnection:)` |
/// | a reply was read | feed the router (throttle, block), then delivered / bounced (suppress?) / retry at / expired, and the event | `complete(...)` |
/// | a message's age | expired once `retry.maxMessageAge` has passed: before routing, and for a retry's time | `RetryPolicy.isExpired` |
/// | an hour passed | demand per provider (backlog spread over a day + the last hour's sends, dedicated and spilled) → scale the managed pools | `planPools(backlog:now:)` |
///
/// A value type: the engine keeps it behind a lock, the simulation owns it. Every
/// decision takes `now`; jitter takes the caller's random number generator.
public struct Dispatcher: Sendable {
    /// Token buckets, warm-up levels, suspensions and the pools' active IPs.
    public private(set) var router: Router
    public let retry: RetryPolicy
    /// Reads every reply (`ReplyReader`): the engine keeps a copy outside its lock, to read
    /// each reply where it arrives, with no other reading anywhere.
    public let reader: ReplyReader
    var planner = PoolPlanner()
    /// How often the pools are re-planned.
    public var planInterval: Duration = .seconds(3600)
    var plannedAt: Timestamp?
    /// Providers whose pool capacity is used up, and until when.
    var exhausted: [MailboxProvider: Timestamp] = [:]
    /// Deferrals handed out in the current batch, per provider.
    var deferralsInBatch: [MailboxProvider: Int] = [:]

    /// Limits lowered by replies, per provider: messages per connection (after a session
    /// limit) and connections (after a connection limit), for the rest of the run.
    public private(set) var loweredLimits: [MailboxProvider: LoweredLimits] = [:]

    /// `retry.maxMessageAge` in nanoseconds: the expiry test runs once per message routed.
    let maxAgeNanoseconds: Int64
    /// Half of it: a message this old goes through the shared relay when its pool spills
    /// at all (`whileWarming` or `always`), whatever the IPs' warm-up, rather than wait
    /// for dedicated capacity that did not come in half its life (a warm pool at `maxIPs`
    /// that cannot carry the demand); a deferral never goes past that time.
    var spillAgeNanoseconds: Int64 { maxAgeNanoseconds / 2 }

    /// Sets what this node may still send through the shared relay under a cluster-wide
    /// limit (`Router.sharedAllowance`; nil: no such limit).
    public mutating func setSharedAllowance(_ allowance: Int?) {
        router.sharedAllowance = allowance
    }

    public init(router: Router, retry: RetryPolicy, reader: ReplyReader = ReplyReader()) {
        self.router = router
        self.retry = retry
        self.reader = reader
        maxAgeNanoseconds = retry.maxMessageAge.nanoseconds
    }

    // MARK: Keys

    /// The router's key for a provider (added on first use).
    public mutating func key(for provider: MailboxProvider) -> Router.ProviderKey { router.key(for: provider) }

    /// The router's key for a pool, nil for a name no pool has.
    public func key(forPool name: String) -> Router.PoolKey? { router.key(forPool: name) }

    // MARK: Each message

    /// What to do with a due message now.
    public enum Decision: Hashable, Sendable {
        /// Send it now, this way.
        case send(SendingPath)
        /// No capacity now: try again at the refill. Not a failed attempt.
        case deferral(until: Timestamp)
        /// Older than its maximum age: no further attempt.
        case expire
    }

    /// Expires a message past its maximum age; sends one past half of it through the
    /// shared relay if its pool spills at all; otherwise routes it (takes a token from
    /// the coldest IP of the pool that has one, else spills or defers; see `Router`).
    public mutating func decide(provider: Router.ProviderKey, pool: Router.PoolKey, createdAt: Timestamp, now: Timestamp) -> Decision {
        switch decideKeyed(provider: provider, pool: pool, createdAt: createdAt, now: now) {
        case .expire: return .expire
        case .route(.dedicated(let ip)): return .send(.dedicated(ip: router.ipNames[ip]))
        case .route(.shared): return .send(.shared)
        case .route(.deferred(let until)): return .deferral(until: Timestamp(nanoseconds: until))
        }
    }

    /// `decide`'s decision with the IP as its index in `router.ipNames` (no string per
    /// message, for a caller that decides millions: the simulation bench).
    public enum KeyedDecision: Hashable, Sendable {
        case expire
        case route(Router.KeyedRoute)
    }

    /// As `decide(provider:pool:createdAt:now:)`, the IP as its index in `router.ipNames`.
    public mutating func decideKeyed(provider: Router.ProviderKey, pool: Router.PoolKey, createdAt: Timestamp, now: Timestamp) -> KeyedDecision {
        if RetryPolicy.isExpired(createdAt: createdAt.nanoseconds, at: now.nanoseconds, maxAge: maxAgeNanoseconds) { return .expire }
        let (age, overflow) = now.nanoseconds.subtractingReportingOverflow(createdAt.nanoseconds)
        if !overflow, age >= spillAgeNanoseconds, router.spillAged(provider, pool: pool, now: now) { return .route(.shared) }
        let route = router.routeKeyed(provider, pool: pool, now: now, createdAt: createdAt.nanoseconds)
        // Deferred past the time it would spill: it comes back then instead.
        if case .deferred(let until) = route, !overflow, router.spillsAtAll(pool: pool) {
            let spillAt = createdAt.nanoseconds &+ spillAgeNanoseconds
            if spillAt < until { return .route(.deferred(until: max(now.nanoseconds, spillAt))) }
        }
        return .route(route)
    }

    /// As `decide(provider:pool:createdAt:now:)`, by name. A pool name that no pool has
    /// defers for a minute.
    public mutating func decide(provider: MailboxProvider, pool: String, createdAt: Timestamp, now: Timestamp) -> Decision {
        guard let poolKey = key(forPool: pool) else {
            return retry.isExpired(createdAt: createdAt, now: now) ? .expire : .deferral(until: now + .seconds(60))
        }
        return decide(provider: key(for: provider), pool: poolKey, createdAt: createdAt, now: now)
    }

    /// A run of due messages of one provider and pool, created at `createdAt`, that would
    /// each be decided at a time before the returned one goes to the shared relay, as
    /// `decide` would send them (no IP can have a token before then, none expires): a
    /// caller with many such messages (the simulation bench) decides them at once and
    /// counts them with `recordSpills`. Nil when it is not known.
    public func spillsUntil(provider: Router.ProviderKey, pool: Router.PoolKey, createdAt: Timestamp) -> Timestamp? {
        guard let until = router.spillsUntil(provider, pool: pool, createdAt: createdAt.nanoseconds) else { return nil }
        let (expiry, overflow) = createdAt.nanoseconds.addingReportingOverflow(maxAgeNanoseconds)
        return Timestamp(nanoseconds: overflow ? until : min(until, expiry))
    }

    /// Counts `count` messages sent to the shared relay on the word of `spillsUntil`.
    public mutating func recordSpills(provider: Router.ProviderKey, pool: Router.PoolKey, count: Int) {
        router.recordSpills(provider, pool: pool, count: count)
    }

    /// Starts a new leased batch: deferrals are spaced from the refill again.
    public mutating func beginBatch() {
        deferralsInBatch.removeAll(keepingCapacity: true)
    }

    /// When a message deferred for capacity in a leased batch comes due: the k-th
    /// deferral of `provider` in the batch goes `k` token intervals of the whole pool
    /// after the refill (at most an hour), so the refill is not met by the whole batch at
    /// once. The provider is not leased again until the refill. With `createdAt`, in a
    /// pool that spills at all, the spacing never takes a message past the end of its spill
    /// wait or half its maximum age (whichever comes first, never before the refill): then
    /// it is decided again, and spills if it still has no token.
    public mutating func deferral(provider: MailboxProvider, pool: String, until: Timestamp, now: Timestamp,
                                  createdAt: Timestamp? = nil) -> Timestamp {
        let k = deferralsInBatch[provider, default: 0]
        deferralsInBatch[provider] = k + 1
        exhausted[provider] = min(exhausted[provider] ?? until, until)
        let spacing = router.refillSpacing(provider: provider, pool: pool, now: now)
        let spaced = until + min(.seconds(3600), spacing * k)
        guard let created = createdAt?.nanoseconds, let poolKey = key(forPool: pool), router.spillsAtAll(pool: poolKey) else { return spaced }
        let wait = router.waitLimit(createdAt: created, pool: poolKey.index)
        let (aged, overflow) = created.addingReportingOverflow(spillAgeNanoseconds)
        let latest = max(until.nanoseconds, min(wait, overflow ? .max : aged))
        return Timestamp(nanoseconds: min(spaced.nanoseconds, latest))
    }

    /// The providers not to lease at `now` (their capacity is used up), with the refill.
    public mutating func exhaustedProviders(now: Timestamp) -> [MailboxProvider: Timestamp] {
        exhausted = exhausted.filter { $0.value > now }
        return exhausted
    }

    // MARK: Replies

    /// What an attempt's reply means for the message.
    public struct Completion: Hashable, Sendable {
        public var disposition: AttemptDisposition
        /// The event to record: delivery, bounce, throttle, block, deliveryDelay or expired.
        public var event: DeliveryEvent.Kind
        /// When the (IP, provider) pair may send again, when the reply suspended it.
        public var resumeAt: Timestamp?
        /// The behavioural signal this reply completed, if any: the pair was slowed
        /// (`congestion`) or suspended (`block`, `escalation`) whatever the reply said.
        public var signal: PairSignal?
        /// The reading acted on: the reply's own, or the signal's (a throttle or a block
        /// of the pair).
        public var classification: ReplyClassification
        /// Orders for the reply's lane that the signal adds, when its reading orders what
        /// the reply's own did not (a reply that withdrew nothing turned into a throttle
        /// or a block of the pair): the transport carries them out after the fact, so what
        /// waits on the lane goes back to the queue as after a throttle it could read.
        public var laneOrders: [LaneOrder] = []
    }

    /// Feeds a reply back, as `reader` read it: a throttle or a block from a dedicated IP slows or
    /// suspends that pair; then decides the message's fate (see `AttemptDisposition`).
    /// - Parameters:
    ///   - path: how the attempt left; nil for a reply made up locally before anything
    ///     left (no such domain, a DNS failure): no IP is blamed.
    ///   - failedAttempts: the message's failed attempts before this one.
    ///   - recipient: a key of the recipient (its hash), so that a recipient refused again
    ///     counts once towards the block signal; nil: every refusal is another recipient.
    public mutating func complete(
        provider: MailboxProvider, path: SendingPath?, classification reading: ReplyClassification, createdAt: Timestamp, failedAttempts: Int,
        recipient: Int? = nil, now: Timestamp, using rng: inout some RandomNumberGenerator
    ) -> Completion {
        var resumeAt: Timestamp?
        var signal: PairSignal?
        var classification = reading
        if case .dedicated(let ip) = path {
            if reading.replyClass != .success {
                signal = router.observe(reading, ip: ip, provider: provider, failedAttempts: failedAttempts, recipient: recipient, now: now)
                if let signal { classification = Self.acting(on: signal, reading: reading) }
            }
            var escalated = false
            resumeAt = router.record(classification, ip: ip, provider: provider, now: now, escalated: &escalated)
            if escalated {
                signal = .escalation
                classification = Self.acting(on: .escalation, reading: reading)
            }
            lowerLimits(provider: provider, after: classification, now: now)
        }
        let disposition = AttemptDisposition.decide(
            classification: classification, failedAttempts: failedAttempts + 1, createdAt: createdAt, now: now, resumeAt: resumeAt,
            policy: retry, using: &rng)
        let event: DeliveryEvent.Kind
        switch disposition {
        case .delivered: event = .delivery
        case .bounced: event = .bounce
        case .expired: event = .expired
        case .retry:
            switch classification.replyClass {
            case .throttle: event = .throttle
            case .permanentPolicy: event = .block
            default: event = .deliveryDelay
            }
        }
        var completion = Completion(disposition: disposition, event: event, resumeAt: resumeAt, signal: signal, classification: classification)
        if signal != nil, reader.orders(after: reading, messagesOnConnection: nil).isEmpty {
            completion.laneOrders = reader.orders(after: classification, messagesOnConnection: nil)
        }
        return completion
    }

    /// What a signal makes of a reply: congestion a throttle of the pair, a block or an
    /// escalation a block of the pair. The reason stays the reply's own; the rule names the signal.
    static func acting(on signal: PairSignal, reading: ReplyClassification) -> ReplyClassification {
        let rule = "signal:\(signal.rawValue)"
        switch signal {
        case .congestion: return ReplyClassification(.throttle, scope: .ip, reason: reading.reason, rule: rule)
        case .block, .escalation: return ReplyClassification(.permanentPolicy, scope: .ip, reason: reading.reason, rule: rule)
        }
    }

    /// A provider's limits lowered by its replies.
    public struct LoweredLimits: Hashable, Sendable {
        public var messagesPerConnection: Int?
        public var connections: Int?
        var loweredAt: Timestamp?
    }

    /// The messages per connection for `provider`: its profile's, or less after a session
    /// limit reply.
    public mutating func messagesPerConnection(for provider: MailboxProvider) -> Int {
        loweredLimits[provider]?.messagesPerConnection ?? router.profileList[key(for: provider).index].messagesPerConnection
    }

    /// At most `configured` connections to `provider`, or fewer after a connection limit reply.
    public func connections(for provider: MailboxProvider, configured: Int) -> Int {
        min(configured, loweredLimits[provider]?.connections ?? configured)
    }

    /// A session limit (`temporary`, scope `session`) halves the provider's messages per
    /// connection; a connection limit (`throttle`, scope `connection`) halves its
    /// connections (from the profile's `maxConnections` at first). Never below 1, and at
    /// most once a minute per provider, so a burst of replies to one limit lowers it once.
    mutating func lowerLimits(provider: MailboxProvider, after classification: ReplyClassification, now: Timestamp) {
        let session = classification.replyClass == .temporary && classification.scope == .session
        let connection = classification.replyClass == .throttle && classification.scope == .connection
        guard session || connection else { return }
        let profile = router.profileList[key(for: provider).index]
        var limits = loweredLimits[provider] ?? LoweredLimits()
        if let last = limits.loweredAt, now - last < .seconds(60) { return }
        if session {
            limits.messagesPerConnection = max(1, (limits.messagesPerConnection ?? profile.messagesPerConnection) / 2)
        } else {
            limits.connections = max(1, (limits.connections ?? profile.maxConnections) / 2)
        }
        limits.loweredAt = now
        loweredLimits[provider] = limits
    }

    /// Whether a reply speaks for its whole lane (source IP, destination): a throttle of
    /// the IP or a policy block. Then what waits behind it on that lane goes back to the
    /// queue at once instead of going out into the throttle: `reader` orders the lane
    /// withdrawn and held, and the transport carries the orders out.
    public static func withdrawsLane(after classification: ReplyClassification) -> Bool {
        (classification.replyClass == .throttle && classification.scope == .ip)
            || (classification.replyClass == .permanentPolicy && classification.scope == .ip)
    }

    // MARK: Pool planning

    /// Whether the pools are due for planning at `now` (once per `planInterval`).
    public func isPlanDue(now: Timestamp) -> Bool {
        plannedAt.map { now - $0 >= planInterval } ?? true
    }

    /// Once per `planInterval` (and at the first call), scales the managed pools from
    /// demand per provider: the backlog spread over a day plus what the active IPs sent
    /// in the last hour plus what spilled to the shared relay since the last plan (mail
    /// the IPs could not carry is demand too). Returns the plans applied (none when not due).
    /// - Parameters:
    ///   - backlog: messages waiting per provider (queued, deferred, leased).
    ///   - peers: in a cluster, each pool's IPs on the other live nodes: the backlog is
    ///     the cluster's, so this node plans for its share of it, and within what the
    ///     pool's `maxIPs` leaves after the others' active IPs.
    public mutating func planPools(backlog: [MailboxProvider: Int], peers: [String: PoolPeers] = [:], now: Timestamp) -> [PoolPlan] {
        guard isPlanDue(now: now) else { return [] }
        plannedAt = now
        // A provider waiting in the backlog counts even before its first message is routed.
        for provider in backlog.keys { _ = router.key(for: provider) }
        var plans: [PoolPlan] = []
        for pool in router.poolNames {
            let spilled = router.takeSpilled(pool: pool)
            guard var view = router.poolView(pool, now: now) else { continue }
            let active = view.ips.filter(\.active).count
            let share = peers[pool]?.share(active: active) ?? 1
            if let peers = peers[pool] { view.maxIPs = peers.maxIPs(node: view.maxIPs, active: active) }
            var demand = backlog.mapValues { Double($0) * share / 24 }
            for (provider, count) in spilled { demand[provider, default: 0] += Double(count) }
            for ip in view.ips where ip.active {
                for (provider, pair) in ip.pairs { demand[provider, default: 0] += pair.sentThisHour }
            }
            let plan = planner.plan(view, demand: demand)
            if !plan.isEmpty {
                router.apply(plan, now: now)
                plans.append(plan)
            }
        }
        return plans
    }

    /// Applies a plan decided elsewhere (a pool's initial size).
    public mutating func apply(_ plan: PoolPlan, now: Timestamp) {
        router.apply(plan, now: now)
    }

    /// Restores saved warm-up state (levels, suspensions, active IPs, learned paces).
    public mutating func restore(_ pairs: [PairSnapshot], activePools: [String: [String]], paces: [ProviderPace] = [], now: Timestamp) {
        router.restore(pairs, activePools: activePools, paces: paces, now: now)
    }
}
