/// Where a message goes next.
public enum RouteDecision: Hashable, Sendable {
    /// Send now from this dedicated source address.
    case dedicated(ip: String)
    /// Send now through the shared pool (spill-over).
    case shared
    /// No IP of the pool may send to this provider now: try again at this time.
    case deferred(until: Timestamp)
}

/// The rate control of every (IP, provider) pair: a token bucket whose rate is the pair's
/// warm-up allowance, suspensions after throttles and blocks, the pools' active IPs, and
/// the shared pool for spill-over. A value type, pure and deterministic: the engine keeps
/// it behind a lock, the simulation drives it directly; every decision takes `now`.
///
/// **IP choice: the coldest IP that has a token, first.** Every IP is capped by its own
/// bucket, so the order only matters when the pool has more capacity than demand; then
/// filling the cold IPs' small allowances first makes them warm up (a level only rises
/// when most of the allowance is used), while the warm IPs, which hold most of the
/// capacity, still take the bulk. Ties go round-robin.
///
/// **When no IP has a token**, the message spills to the shared pool if the pool's
/// `spillover` allows it (`always`, or `whileWarming` while some active IP is below full
/// warm-up for the provider), the shared pool has capacity and no token comes while the
/// message may still wait for one (its pool's spill wait from its submit time); otherwise
/// it is deferred to the earliest refill or the end of a suspension.
///
/// Hot path: `route(provider:pool:now:)` with pre-resolved keys does no allocation and
/// takes no lock; per-pair state lives in flat arrays indexed by IP and provider.
public struct Router: Sendable {
    public struct Pair: Hashable, Sendable, Codable {
        public var ip: String
        public var provider: MailboxProvider
        public init(ip: String, provider: MailboxProvider) {
            self.ip = ip
            self.provider = provider
        }
    }

    /// A pre-resolved provider.
    public struct ProviderKey: Hashable, Sendable { public let index: Int }
    /// A pre-resolved pool.
    public struct PoolKey: Hashable, Sendable { public let index: Int }

    struct Slot: Sendable {
        var bucket: TokenBucket
        var warmup: WarmupTracker
        var suspendedUntil: Int64 = .min
        /// What the pair's recent attempts did, whatever the replies said.
        var signals = PairSignals()
    }

    /// Every (IP, provider) pair's state in one array, provider by provider: the router
    /// reads several pairs per message, and one flat array of plain values costs no
    /// reference counting on the way.
    struct SlotTable: Sendable {
        private(set) var storage: [Slot] = []
        private(set) var ipCount = 0
        private(set) var providerCount = 0

        subscript(ip: Int, p: Int) -> Slot {
            get { storage[index(ip: ip, p: p)] }
            _modify { yield &storage[index(ip: ip, p: p)] }
        }

        /// Where a pair is in `storage` (for reading its fields one by one).
        func index(ip: Int, p: Int) -> Int { p &* ipCount &+ ip }

        /// Adds an IP with `slot` for every provider known.
        mutating func appendIP(_ slot: Slot) {
            var grown: [Slot] = []
            grown.reserveCapacity((ipCount + 1) * providerCount)
            for p in 0..<providerCount {
                grown += storage[(p * ipCount)..<((p + 1) * ipCount)]
                grown.append(slot)
            }
            storage = grown
            ipCount += 1
        }

        /// Adds a provider with `make(ip)` for every IP.
        mutating func appendProvider(_ make: (Int) -> Slot) {
            for ip in 0..<ipCount { storage.append(make(ip)) }
            providerCount += 1
        }
    }

    struct PoolState: Sendable {
        var name: String
        /// Indices into `ipNames`, in configuration order.
        var ips: [Int]
        var active: [Int]
        var spillover: Spillover
        var scaling: Scaling
        var minIPs: Int
        var maxIPs: Int
        var strategy: WarmupStrategy
        /// How long a message may wait for a token before it spills, in nanoseconds
        /// (`Pool.spillWaitSeconds`; see `waitLimit`).
        var spillWait: Int64
        var roundRobin: Int = 0
        /// Per provider: when the last route found no IP with a token, the time before which
        /// none can have one (the earliest refill, suspension end or window end), that
        /// earliest refill, and whether an IP was cold. Routes before then skip the scan.
        var idleUntil: [Int64] = []
        var idleRefill: [Int64] = []
        var idleAnyCold: [Bool] = []
        /// Per provider: the positions in `active` in order of level (coldest first, ties in
        /// position order), `orderStride` apart; valid until the first active IP's window
        /// ends (`orderUntil`; `.min`: rebuild), with whether an active IP is cold.
        var order: [Int] = []
        var orderUntil: [Int64] = []
        var orderAnyCold: [Bool] = []
        var orderStride: Int { ips.count }

        /// Levels or the active IPs changed: no cached scan or order holds.
        mutating func forgetIdle() {
            for p in idleUntil.indices { idleUntil[p] = .min }
            for p in orderUntil.indices { orderUntil[p] = .min }
        }
    }

    /// How long a pair rests after a policy block (5.7.x).
    public var blockSuspension: Duration
    /// How long a message may wait for a token of its pool before it spills, when the pool
    /// does not say (`Pool.spillWaitSeconds`): a burst of mail (a campaign's
    /// start, the first minutes of an hour) is paced out at the IPs' allowance instead of
    /// spilling all but a minute's worth (the buckets' burst), so the allowance is used and
    /// the pairs warm up. A pacing sender's send buffer: the shared relay takes what the
    /// IPs cannot carry within this time, not what they cannot carry at once.
    public static let defaultSpillWaitSeconds = 900.0
    public private(set) var ipNames: [String] = []
    var ipIndex: [String: Int] = [:]
    public private(set) var providers: [MailboxProvider] = []
    var providerIndex: [MailboxProvider: Int] = [:]
    var profileList: [ProviderProfile] = []
    var poolStates: [PoolState] = []
    var poolIndex: [String: Int] = [:]
    /// `slots[ip, provider]`.
    var slots = SlotTable()
    /// What each provider's replies taught about its pace and per-IP ceiling, per provider index.
    var paces: [ProviderPace] = []
    /// Per provider index: the last time a message found no active IP of its pool with a
    /// token (it spilled or waited). A pair's day with such a time was limited by its
    /// allowance, not by demand: allowance validation leaves it alone.
    var overflowedAt: [Int64] = []
    /// Messages sent through the shared relay per pool and provider since the last pool
    /// plan: demand the dedicated IPs did not carry (`takeSpilled(pool:)`).
    var spilled: [[Int]] = []
    var shared: TokenBucket?
    /// What this node may still send through the shared relay under a limit that holds
    /// for the whole cluster: its slice of `sharedPool.dailyLimit`, granted by the store
    /// (`QuotaSlice`) and set by the delivery run at each heartbeat. Nil: no such slice
    /// (the simulator; a relay without a daily limit); the local bucket alone decides.
    public var sharedAllowance: Int?
    let hasShared: Bool
    private let profiles: @Sendable (MailboxProvider) -> ProviderProfile
    let start: Timestamp

    /// - Parameters:
    ///   - pools: the dedicated pools; a managed pool starts with `minIPs` active.
    ///   - sharedPool: the relay for spill-over (nil: none).
    ///   - strategies: the warm-up strategy per pool name (adaptive by default).
    public init(
        pools: [Pool], sharedPool: SharedPool? = nil,
        strategies: [String: WarmupStrategy] = [:], blockSuspension: Duration = .seconds(12 * 3600),
        now: Timestamp = Timestamp(nanoseconds: 0), profiles: @escaping @Sendable (MailboxProvider) -> ProviderProfile
    ) {
        self.blockSuspension = blockSuspension
        self.profiles = profiles
        self.start = now
        hasShared = sharedPool != nil
        if let limit = sharedPool?.dailyLimit {
            shared = TokenBucket(hourly: Double(limit) / 24, burst: max(1, limit / 24 / 60))
        }
        for pool in pools {
            var indices: [Int] = []
            for ip in pool.ips {
                if let i = ipIndex[ip] { indices.append(i); continue }
                ipIndex[ip] = ipNames.count
                indices.append(ipNames.count)
                ipNames.append(ip)
                slots.appendIP(Slot(bucket: TokenBucket(hourly: 1, burst: 1), warmup: WarmupTracker(now: now)))
            }
            let scaling = pool.scaling ?? .managed
            let maxIPs = min(indices.count, pool.maxIPs ?? indices.count)
            let minIPs = max(1, min(pool.minIPs ?? 1, maxIPs))
            poolIndex[pool.name] = poolStates.count
            spilled.append([])
            poolStates.append(PoolState(
                name: pool.name, ips: indices, active: Array(indices.prefix(scaling == .fixed ? indices.count : minIPs)),
                spillover: sharedPool == nil ? .never : (pool.spillover ?? .whileWarming), scaling: scaling,
                minIPs: minIPs, maxIPs: maxIPs, strategy: strategies[pool.name] ?? .adaptive(WarmupModel()),
                spillWait: Int64(saturating: (pool.spillWaitSeconds ?? Self.defaultSpillWaitSeconds) * 1e9)))
        }
    }

    // MARK: Keys

    /// The key of `provider`, registering it on first use.
    public mutating func key(for provider: MailboxProvider) -> ProviderKey {
        if let index = providerIndex[provider] { return ProviderKey(index: index) }
        let index = providers.count
        providers.append(provider)
        providerIndex[provider] = index
        let profile = profiles(provider)
        profileList.append(profile)
        // A provider's pace starts where the (first) adaptive pool's model starts it.
        let model = poolStates.lazy.compactMap { state -> WarmupModel? in
            if case .adaptive(let m) = state.strategy { m } else { nil }
        }.first ?? WarmupModel()
        paces.append(ProviderPace(provider: provider, perDay: model.maxRisePerDay))
        overflowedAt.append(.min)
        let strategies = (0..<slots.ipCount).map { strategy(ofIP: $0) }
        slots.appendProvider { ip in
            var slot = Slot(bucket: TokenBucket(hourly: profile.coldHourly, burst: 1), warmup: WarmupTracker(now: start))
            slot.bucket = Self.bucket(hourly: slot.warmup.hourly(profile, strategy: strategies[ip], now: start))
            return slot
        }
        return ProviderKey(index: index)
    }

    public func key(forPool name: String) -> PoolKey? { poolIndex[name].map(PoolKey.init) }

    func isAdaptive(ip: Int) -> Bool {
        if case .adaptive = strategy(ofIP: ip) { true } else { false }
    }

    func strategy(ofIP ip: Int) -> WarmupStrategy {
        poolStates.first { $0.ips.contains(ip) }?.strategy ?? .adaptive(WarmupModel())
    }

    /// A bucket for an hourly allowance, with a burst of about a minute of it (at least one).
    static func bucket(hourly: Double) -> TokenBucket {
        TokenBucket(hourly: hourly, burst: burst(hourly: hourly))
    }

    static func burst(hourly: Double) -> Int { max(1, Int(saturating: hourly / 60)) }

    // MARK: Routing

    /// Routes one message of `provider` from pool `pool`.
    public mutating func route(provider: MailboxProvider, pool: String, now: Timestamp) -> RouteDecision {
        guard let poolKey = key(forPool: pool) else { return .deferred(until: now + .seconds(60)) }
        return route(key(for: provider), pool: poolKey, now: now)
    }

    /// Routes one message: takes a token from the coldest active IP that has one, else
    /// spills or defers. Counts the message as offered demand.
    public mutating func route(_ provider: ProviderKey, pool: PoolKey, now: Timestamp) -> RouteDecision {
        switch routeKeyed(provider, pool: pool, now: now) {
        case .dedicated(let ip): return .dedicated(ip: ipNames[ip])
        case .shared: return .shared
        case .deferred(let until): return .deferred(until: Timestamp(nanoseconds: until))
        }
    }

    /// A route with the IP as its index in `ipNames`: the same decision as
    /// `route(_:pool:now:)`, with no string on the way (for callers that route millions).
    public enum KeyedRoute: Hashable, Sendable {
        case dedicated(ip: Int)
        case shared
        case deferred(until: Int64)
    }

    /// As `route(_:pool:now:)`, the IP as its index in `ipNames`.
    ///
    /// The IPs are scanned coldest first (the order is kept until a window ends or a level
    /// or the active IPs change): the first with a token wins, ties going to the one first
    /// in the round-robin rotation, so the scan stops at the first warmer IP after a find.
    /// - Parameter createdAt: the message's submit time (nanoseconds): while it is younger
    ///   than its pool's spill wait at the next refill it waits for that refill instead of spilling.
    ///   `.min`: it spills at once.
    public mutating func routeKeyed(_ provider: ProviderKey, pool: PoolKey, now: Timestamp, createdAt: Int64 = .min) -> KeyedRoute {
        let p = provider.index
        let t = now.nanoseconds
        let pi = pool.index
        let waitUntil = waitLimit(createdAt: createdAt, pool: pi)
        // Nothing has changed since the last scan found no token: spill or defer at once.
        if p < poolStates[pi].idleUntil.count, t < poolStates[pi].idleUntil[p] {
            return overflow(pool: pi, provider: p, anyCold: poolStates[pi].idleAnyCold[p], earliest: poolStates[pi].idleRefill[p], now: t,
                            waitUntil: waitUntil)
        }
        let count = poolStates[pi].active.count
        guard count > 0 else { return .deferred(until: t + 60_000_000_000) }
        let rotation = poolStates[pi].roundRobin
        let first = rotation < count ? rotation : rotation % count
        if p >= poolStates[pi].orderUntil.count || t >= poolStates[pi].orderUntil[p] { orderIPs(pool: pi, provider: p, first: first, now: now) }
        let stride = poolStates[pi].orderStride
        var chosen = -1
        var chosenLevel = Double.infinity
        var chosenDistance = Int.max
        var earliest = Int64.max
        for k in 0..<count {
            let position = poolStates[pi].order[p &* stride &+ k]
            let ip = poolStates[pi].active[position]
            // Field by field: this runs for several IPs of the pool for every message.
            let index = slots.index(ip: ip, p: p)
            let level = slots.storage[index].warmup.level
            if chosen >= 0, level > chosenLevel { break }
            let suspendedUntil = slots.storage[index].suspendedUntil
            if suspendedUntil > t {
                earliest = min(earliest, suspendedUntil)
                continue
            }
            let bucket = slots.storage[index].bucket
            guard bucket.isAvailable(now: now) else {
                earliest = min(earliest, bucket.nextAvailable(now: now).nanoseconds)
                continue
            }
            // Among IPs of one level, the first in the rotation from `first`.
            let distance = position >= first ? position &- first : position &+ count &- first
            if distance < chosenDistance {
                chosen = ip
                chosenLevel = level
                chosenDistance = distance
            }
        }
        if chosen >= 0 {
            _ = slots[chosen, p].bucket.take(now: now)
            slots[chosen, p].warmup.recordSend(now: now)
            slots[chosen, p].signals.recordAttempt(now: t)
            poolStates[pi].roundRobin = first + 1 == count ? 0 : first + 1
            return .dedicated(ip: chosen)
        }
        if poolStates[pi].idleUntil.count <= p {
            let missing = p + 1 - poolStates[pi].idleUntil.count
            poolStates[pi].idleUntil += Array(repeating: .min, count: missing)
            poolStates[pi].idleRefill += Array(repeating: .max, count: missing)
            poolStates[pi].idleAnyCold += Array(repeating: false, count: missing)
        }
        let anyCold = poolStates[pi].orderAnyCold[p]
        poolStates[pi].idleUntil[p] = min(earliest, poolStates[pi].orderUntil[p])
        poolStates[pi].idleRefill[p] = earliest
        poolStates[pi].idleAnyCold[p] = anyCold
        return overflow(pool: pi, provider: p, anyCold: anyCold, earliest: earliest, now: t, waitUntil: waitUntil)
    }

    /// The last time a message of pool `pi` submitted at `createdAt` may still wait for a
    /// token (`.min` for a caller that gives no submit time: it spills at once).
    func waitLimit(createdAt: Int64, pool pi: Int) -> Int64 {
        guard createdAt > .min else { return .min }
        let (limit, overflow) = createdAt.addingReportingOverflow(poolStates[pi].spillWait)
        return overflow ? .max : limit
    }

    /// Closes the windows of the pool's active IPs that ended (in rotation order from
    /// `first`, as routes would meet them), then orders the IPs by level for `provider`.
    mutating func orderIPs(pool pi: Int, provider p: Int, first: Int, now: Timestamp) {
        let count = poolStates[pi].active.count
        let stride = poolStates[pi].orderStride
        if poolStates[pi].orderUntil.count <= p {
            let missing = p + 1 - poolStates[pi].orderUntil.count
            poolStates[pi].orderUntil += Array(repeating: .min, count: missing)
            poolStates[pi].orderAnyCold += Array(repeating: false, count: missing)
            poolStates[pi].order += Array(repeating: 0, count: missing * stride)
        }
        var windowEnd = Int64.max
        var anyCold = false
        var levels: [(level: Double, position: Int)] = []
        levels.reserveCapacity(count)
        for k in 0..<count {
            let position = (first + k) % count
            let ip = poolStates[pi].active[position]
            if slots[ip, p].warmup.needsRoll(now: now) { roll(ip: ip, provider: p, now: now) }
            let warmup = slots[ip, p].warmup
            windowEnd = min(windowEnd, warmup.windowStart &+ 3_600_000_000_000)
            if warmup.level < 1 { anyCold = true }
            levels.append((warmup.level, position))
        }
        levels.sort { ($0.level, $0.position) < ($1.level, $1.position) }
        for (k, entry) in levels.enumerated() { poolStates[pi].order[p * stride + k] = entry.position }
        poolStates[pi].orderUntil[p] = windowEnd
        poolStates[pi].orderAnyCold[p] = anyCold
    }

    /// Until when (nanoseconds) every route of `provider` from `pool` spills to the shared
    /// relay as the last one did, without a look at the IPs: the last scan found no IP
    /// with a token and the pool spills. Nil when not known, or when the shared relay has a
    /// daily limit (then each spill takes one of its tokens).
    /// Messages submitted at `createdAt` that would still wait for the next refill
    /// (the pool's spill wait) do not spill: nil.
    public func spillsUntil(_ provider: ProviderKey, pool: PoolKey, createdAt: Int64 = .min) -> Int64? {
        let state = poolStates[pool.index], p = provider.index
        guard hasShared, shared == nil, p < state.idleUntil.count, state.idleUntil[p] > .min else { return nil }
        guard state.idleRefill[p] > waitLimit(createdAt: createdAt, pool: pool.index) else { return nil }
        switch state.spillover {
        case .never: return nil
        case .always: return state.idleUntil[p]
        case .whileWarming: return state.idleAnyCold[p] ? state.idleUntil[p] : nil
        }
    }

    /// Sends one message of `provider` through the shared relay now, whatever the IPs'
    /// tokens and warm-up, if the pool spills at all (`whileWarming` or `always`) and the
    /// relay has capacity: for a message that waited too long for dedicated capacity (the
    /// dispatcher decides when). Counted as spilled demand, which the pool planner reads.
    /// - Returns: whether it spilled.
    public mutating func spillAged(_ provider: ProviderKey, pool: PoolKey, now: Timestamp) -> Bool {
        guard spillsAtAll(pool: pool), takeShared(now: now) else { return false }
        recordSpills(provider, pool: pool, count: 1)
        return true
    }

    /// Whether the pool ever spills to the shared relay (`whileWarming` or `always`, with one).
    public func spillsAtAll(pool: PoolKey) -> Bool { hasShared && poolStates[pool.index].spillover != .never }

    /// Counts `count` routes that spilled as `spillsUntil` said they would.
    public mutating func recordSpills(_ provider: ProviderKey, pool: PoolKey, count: Int) {
        let p = provider.index
        if spilled[pool.index].count <= p { spilled[pool.index] += Array(repeating: 0, count: p + 1 - spilled[pool.index].count) }
        spilled[pool.index][p] &+= count
    }

    /// One message's room on the shared relay: a token of its pace and, under a
    /// cluster-wide limit, one of this node's slice.
    mutating func takeShared(now: Timestamp) -> Bool {
        if let allowance = sharedAllowance, allowance <= 0 { return false }
        guard shared?.take(now: now) ?? true else { return false }
        if let allowance = sharedAllowance { sharedAllowance = allowance - 1 }
        return true
    }

    /// No IP of the pool has a token: spill if the pool allows it and the shared pool has
    /// capacity, else defer to the earliest refill or suspension end.
    mutating func overflow(pool: Int, provider p: Int, anyCold: Bool, earliest: Int64, now t: Int64, waitUntil: Int64 = .min) -> KeyedRoute {
        overflowedAt[p] = t
        var spills: Bool
        switch poolStates[pool].spillover {
        case .never: spills = false
        case .always: spills = true
        case .whileWarming: spills = anyCold
        }
        // A token comes while the message may still wait for one: it waits.
        if spills, earliest <= waitUntil { spills = false }
        if spills, takeShared(now: Timestamp(nanoseconds: t)) {
            if spilled[pool].count <= p { spilled[pool] += Array(repeating: 0, count: p + 1 - spilled[pool].count) }
            spilled[pool][p] &+= 1
            return .shared
        }
        return .deferred(until: earliest == .max ? t + 60_000_000_000 : earliest)
    }

    /// Closes the pair's past windows and sets its bucket to its new allowance.
    mutating func roll(ip: Int, provider p: Int, now: Timestamp) {
        let profile = profileList[p]
        let strategy = strategy(ofIP: ip)
        let allowance = slots[ip, p].warmup.hourly(profile, strategy: strategy, now: now)
        let model: WarmupModel
        if case .adaptive(let m) = strategy { model = m } else { model = WarmupModel() }
        if case .schedule = strategy {
            var frozen = slots[ip, p].warmup
            frozen.roll(now: now, allowance: allowance, model: model)
            slots[ip, p].warmup.windowStart = frozen.windowStart
            slots[ip, p].warmup.sentInWindow = 0
        } else {
            slots[ip, p].warmup.roll(now: now, allowance: allowance, model: model, pace: paces[p].perDay, profile: profile, overflowedAt: overflowedAt[p])
            paces[p].windowClosed(slots[ip, p].warmup, model: model)
        }
        updateRate(ip: ip, provider: p, now: now)
    }

    mutating func updateRate(ip: Int, provider p: Int, now: Timestamp) {
        let hourly = slots[ip, p].warmup.hourly(profileList[p], strategy: strategy(ofIP: ip), now: now)
        slots[ip, p].bucket.setRate(hourly: hourly, burst: Self.burst(hourly: hourly), now: now)
    }

    /// The time between two tokens of the whole active pool for `provider`: how far
    /// apart deferred messages are queued behind the next refill.
    public mutating func refillSpacing(provider: MailboxProvider, pool: String, now: Timestamp) -> Duration {
        guard let poolKey = key(forPool: pool) else { return .seconds(60) }
        let p = key(for: provider).index
        let total = poolStates[poolKey.index].active.reduce(0.0) { $0 + slots[$1, p].bucket.hourly }
        return total > 0 ? .nanoseconds(Int64(saturating: 3_600_000_000_000 / total)) : .seconds(60)
    }

    // MARK: Feedback

    /// Feeds a reply back, as the Dispatcher's `ReplyReader` read it. A throttle slows the
    /// pair at once (its level drops, its bucket follows) and rests it for the provider's
    /// backoff; a policy block collapses its level and suspends it for `blockSuspension`;
    /// an operator rule's `suspend` rests it for its own duration. Per-recipient,
    /// per-message, per-session and sender (authentication) replies change nothing here.
    /// - Returns: the time the pair is suspended until, when it is.
    @discardableResult
    public mutating func record(_ classification: ReplyClassification, ip: String, provider: MailboxProvider, now: Timestamp) -> Timestamp? {
        var escalated = false
        return record(classification, ip: ip, provider: provider, now: now, escalated: &escalated)
    }

    /// As `record(_:ip:provider:now:)`; `escalated` tells whether a throttle was taken as a
    /// block because it came back after every rest (`PairSignal.escalation`).
    @discardableResult
    public mutating func record(_ classification: ReplyClassification, ip: String, provider: MailboxProvider, now: Timestamp,
                                escalated: inout Bool) -> Timestamp? {
        guard let i = ipIndex[ip] else { return nil }
        let p = key(for: provider).index
        let model: WarmupModel
        if case .adaptive(let m) = strategy(ofIP: i) { model = m } else { model = WarmupModel() }
        let suspension: Duration
        switch (classification.replyClass, classification.scope) {
        case (.throttle, .ip) where classification.suspension != nil:
            // An operator rule's `suspend`: rest the pair, leave its level alone.
            suspension = classification.suspension!
        case (.throttle, .ip) where isAdaptive(ip: i) && now.nanoseconds >= slots[i, p].suspendedUntil
            && slots[i, p].signals.throttled(now: now.nanoseconds):
            // A throttle that came back after every rest: a block (`PairSignal.escalation`).
            // Only where Kiln paces the pair: a fixed plan is the operator's schedule.
            slots[i, p].warmup.recordBlock(model: model)
            if case .adaptive = strategy(ofIP: i) { paces[p].blocked(model: model) }
            suspension = blockSuspension
            escalated = true
        case (.throttle, .ip):
            let profile = profileList[p]
            let before = slots[i, p].warmup
            let taken = WarmupTracker.level(hourly: Double(before.sentInWindow), cold: profile.coldHourly, warm: profile.warmHourly)
            // Throttled again in this window after resuming from the last throttle's rest
            // (not a reply still in flight when that throttle came): the window's count is
            // the limit; the pair falls to it and rests until the window ends (below).
            let again = before.throttledInWindow && !before.needsRoll(now: now) && now.nanoseconds >= slots[i, p].suspendedUntil
            slots[i, p].warmup.recordThrottle(model: model, takenLevel: taken, again: again)
            if case .adaptive = strategy(ofIP: i) { paces[p].throttled(before: before, after: slots[i, p].warmup, model: model) }
            suspension = profileList[p].throttleBackoff
            // The hour already took (nearly) the new allowance, or would by resuming after
            // the backoff at the new rate: the provider has had what it takes this hour, so
            // rest until the window ends, not just for the backoff (the next attempts would
            // only add to the hour's count, and a provider blocks past some multiple of it).
            let after = slots[i, p].warmup
            let allowance = after.hourly(profile, strategy: strategy(ofIP: i), now: now)
            let windowEnd = after.windowStart + 3_600_000_000_000
            let resumed = Double(max(0, windowEnd - (now + suspension).nanoseconds)) / 3_600_000_000_000
            if again || Double(after.sentInWindow) + allowance * resumed >= 0.9 * allowance {
                slots[i, p].suspendedUntil = max(slots[i, p].suspendedUntil, windowEnd)
            }
        case (.permanentPolicy, .ip):
            slots[i, p].warmup.recordBlock(model: model)
            if case .adaptive = strategy(ofIP: i) { paces[p].blocked(model: model) }
            suspension = blockSuspension
        default:
            return nil
        }
        updateRate(ip: i, provider: p, now: now)
        for pool in poolStates.indices { poolStates[pool].forgetIdle() }
        let until = (now + suspension).nanoseconds
        slots[i, p].suspendedUntil = max(slots[i, p].suspendedUntil, until)
        if classification.replyClass == .throttle, !escalated { slots[i, p].signals.rested(until: slots[i, p].suspendedUntil) }
        return Timestamp(nanoseconds: slots[i, p].suspendedUntil)
    }

    /// Reads what the pair's refusals add up to, whatever they said (see `PairSignals`):
    /// the signal they complete, if any. Call it for every refusal of a dedicated attempt,
    /// before `record`.
    public mutating func observe(_ classification: ReplyClassification, ip: String, provider: MailboxProvider, failedAttempts: Int,
                                 recipient: Int?, now: Timestamp) -> PairSignal? {
        guard let i = ipIndex[ip] else { return nil }
        let p = key(for: provider).index
        // A reply still in flight while the pair rests or is suspended adds nothing.
        if now.nanoseconds < slots[i, p].suspendedUntil { return nil }
        return slots[i, p].signals.observe(classification, failedAttempts: failedAttempts, recipient: recipient, now: now.nanoseconds)
    }

    /// The messages each provider of `pool` spilled to the shared relay since the last call.
    public mutating func takeSpilled(pool name: String) -> [MailboxProvider: Int] {
        guard let index = poolIndex[name] else { return [:] }
        var taken: [MailboxProvider: Int] = [:]
        for (p, count) in spilled[index].enumerated() where count > 0 { taken[providers[p]] = count }
        spilled[index].removeAll(keepingCapacity: true)
        return taken
    }

    /// The time the pair may send again, if it is suspended at `now`.
    public func suspension(ip: String, provider: MailboxProvider, now: Timestamp) -> Timestamp? {
        guard let i = ipIndex[ip], let p = providerIndex[provider], slots[i, p].suspendedUntil > now.nanoseconds else { return nil }
        return Timestamp(nanoseconds: slots[i, p].suspendedUntil)
    }

    // MARK: Reporting

    /// The warm-up of one pair (a cold tracker for a pair that never sent).
    public func warmup(ip: String, provider: MailboxProvider) -> WarmupTracker? {
        guard let i = ipIndex[ip] else { return nil }
        guard let p = providerIndex[provider] else { return WarmupTracker(now: start) }
        return slots[i, p].warmup
    }

    /// The hourly allowance of a pair now.
    public func allowance(ip: String, provider: MailboxProvider, now: Timestamp) -> Double? {
        guard let i = ipIndex[ip], let p = providerIndex[provider] else { return nil }
        return slots[i, p].warmup.hourly(profileList[p], strategy: strategy(ofIP: i), now: now)
    }

    /// The active IPs of a pool.
    public func activeIPs(pool: String) -> [String] {
        guard let index = poolIndex[pool] else { return [] }
        return poolStates[index].active.map { ipNames[$0] }
    }

    /// Every pair's warm-up, for `kiln status` and persistence.
    public var snapshot: [PairSnapshot] {
        var result: [PairSnapshot] = []
        for (i, ip) in ipNames.enumerated() {
            for (p, provider) in providers.enumerated() {
                let slot = slots[i, p]
                guard slot.warmup.firstSentAt != nil || slot.warmup.level != 0 || slot.suspendedUntil > .min else { continue }
                result.append(PairSnapshot(ip: ip, provider: provider, warmup: slot.warmup,
                                           suspendedUntil: slot.suspendedUntil == .min ? nil : Timestamp(nanoseconds: slot.suspendedUntil)))
            }
        }
        return result
    }

    /// What the router learned per provider (pace, ceiling), for `kiln status` and persistence.
    public var learnedPaces: [ProviderPace] { paces }

    /// The active IPs of every pool, for persistence.
    public var activePools: [String: [String]] {
        Dictionary(uniqueKeysWithValues: poolStates.map { ($0.name, $0.active.map { ipNames[$0] }) })
    }

    /// Restores pairs, active IPs and learned paces saved from an earlier run.
    public mutating func restore(_ pairs: [PairSnapshot], activePools: [String: [String]] = [:], paces saved: [ProviderPace] = [], now: Timestamp) {
        for pace in saved { paces[key(for: pace.provider).index] = pace }
        for pool in poolStates.indices { poolStates[pool].forgetIdle() }
        for pair in pairs {
            guard let i = ipIndex[pair.ip] else { continue }
            let p = key(for: pair.provider).index
            slots[i, p].warmup = pair.warmup
            slots[i, p].suspendedUntil = pair.suspendedUntil?.nanoseconds ?? .min
            let hourly = pair.warmup.hourly(profileList[p], strategy: strategy(ofIP: i), now: now)
            slots[i, p].bucket = Self.bucket(hourly: hourly)
        }
        for (name, ips) in activePools {
            guard let index = poolIndex[name], poolStates[index].scaling == .managed else { continue }
            let active = ips.compactMap { ipIndex[$0] }.filter { poolStates[index].ips.contains($0) }
            if active.count >= poolStates[index].minIPs { poolStates[index].active = Array(active.prefix(poolStates[index].maxIPs)) }
        }
    }

    // MARK: Scaling

    /// Applies a planner decision to a managed pool.
    public mutating func apply(_ plan: PoolPlan, now: Timestamp) {
        guard let index = poolIndex[plan.pool], poolStates[index].scaling == .managed else { return }
        var active = poolStates[index].active
        for ip in plan.add { if let i = ipIndex[ip], !active.contains(i), poolStates[index].ips.contains(i) { active.append(i) } }
        for ip in plan.release { if let i = ipIndex[ip] { active.removeAll { $0 == i } } }
        if active.count >= poolStates[index].minIPs && active.count <= poolStates[index].maxIPs {
            poolStates[index].active = active
            poolStates[index].forgetIdle()
        }
    }

    /// What the planner needs to know about a pool at `now`.
    public func poolView(_ name: String, now: Timestamp) -> PoolView? {
        guard let index = poolIndex[name] else { return nil }
        let state = poolStates[index]
        var ips: [PoolView.IP] = []
        for i in state.ips {
            var perProvider: [MailboxProvider: PoolView.PairView] = [:]
            for (p, provider) in providers.enumerated() {
                let slot = slots[i, p]
                perProvider[provider] = PoolView.PairView(
                    level: slot.warmup.level,
                    sentThisHour: Double(slot.warmup.sentInWindow),
                    hourly: slot.warmup.hourly(profileList[p], strategy: state.strategy, now: now),
                    lastSentAt: slot.warmup.lastSentAt.map(Timestamp.init(nanoseconds:)))
            }
            ips.append(PoolView.IP(ip: ipNames[i], active: state.active.contains(i), pairs: perProvider))
        }
        var ceilings: [MailboxProvider: Double] = [:]
        if case .adaptive = state.strategy {
            for (p, provider) in providers.enumerated() {
                guard let level = paces[p].ceilingLevel else { continue }
                ceilings[provider] = WarmupTracker.hourly(level: level, cold: profileList[p].coldHourly, warm: profileList[p].warmHourly)
            }
        }
        return PoolView(name: name, ips: ips, minIPs: state.minIPs, maxIPs: state.maxIPs, managed: state.scaling == .managed,
                        profiles: Dictionary(uniqueKeysWithValues: providers.enumerated().map { ($1, profileList[$0]) }), ceilings: ceilings)
    }

    /// Pool names.
    public var poolNames: [String] { poolStates.map(\.name) }
}

/// One pair's saved state.
public struct PairSnapshot: Hashable, Sendable, Codable {
    public var ip: String
    public var provider: MailboxProvider
    public var warmup: WarmupTracker
    public var suspendedUntil: Timestamp?
    public init(ip: String, provider: MailboxProvider, warmup: WarmupTracker, suspendedUntil: Timestamp? = nil) {
        self.ip = ip
        self.provider = provider
        self.warmup = warmup
        self.suspendedUntil = suspendedUntil
    }
}
