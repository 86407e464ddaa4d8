/// What the planner sees of a pool: every configured IP, whether it is in use, and its
/// warm-up per provider.
public struct PoolView: Sendable {
    public struct PairView: Sendable, Hashable {
        public var level: Double
        /// Messages sent in the current hourly window.
        public var sentThisHour: Double
        /// The pair's safe hourly volume now.
        public var hourly: Double
        public var lastSentAt: Timestamp?
        public init(level: Double, sentThisHour: Double, hourly: Double, lastSentAt: Timestamp?) {
            self.level = level
            self.sentThisHour = sentThisHour
            self.hourly = hourly
            self.lastSentAt = lastSentAt
        }
    }
    public struct IP: Sendable {
        public var ip: String
        public var active: Bool
        public var pairs: [MailboxProvider: PairView]
        public init(ip: String, active: Bool, pairs: [MailboxProvider: PairView]) {
            self.ip = ip
            self.active = active
            self.pairs = pairs
        }
    }
    public var name: String
    public var ips: [IP]
    public var minIPs: Int
    public var maxIPs: Int
    public var managed: Bool
    public var profiles: [MailboxProvider: ProviderProfile]
    /// The learned per-IP ceiling (messages an hour) of providers whose throttles stopped
    /// rising (`ProviderPace.ceilingLevel`): one IP carries no more, however warm.
    public var ceilings: [MailboxProvider: Double]
    public init(name: String, ips: [IP], minIPs: Int, maxIPs: Int, managed: Bool, profiles: [MailboxProvider: ProviderProfile],
                ceilings: [MailboxProvider: Double] = [:]) {
        self.ceilings = ceilings
        self.name = name
        self.ips = ips
        self.minIPs = minIPs
        self.maxIPs = maxIPs
        self.managed = managed
        self.profiles = profiles
    }
}

/// What a node of a cluster knows of a pool's IPs on the other live nodes: each node
/// scales its own part of the pool, for its share of the cluster's backlog, and the
/// cluster stays within the pool's `maxIPs` (`Dispatcher.planPools`).
public struct PoolPeers: Sendable, Hashable {
    /// The pool's active IPs on the other live nodes.
    public var activeElsewhere: Int
    /// The pool's `maxIPs` for the whole cluster.
    public var clusterMaxIPs: Int
    public init(activeElsewhere: Int, clusterMaxIPs: Int) {
        self.activeElsewhere = activeElsewhere
        self.clusterMaxIPs = clusterMaxIPs
    }

    /// This node's share of the cluster's backlog: its active IPs' part of all of them.
    public func share(active: Int) -> Double {
        activeElsewhere > 0 ? Double(active) / Double(active + activeElsewhere) : 1
    }

    /// The most IPs this node may have active: what the cluster's cap leaves after the
    /// other nodes' (never fewer than it has: the cap stops adding, it releases nothing).
    public func maxIPs(node: Int, active: Int) -> Int {
        min(node, max(active, clusterMaxIPs - activeElsewhere))
    }
}

/// A scaling decision for one pool.
public struct PoolPlan: Hashable, Sendable {
    public var pool: String
    public var add: [String] = []
    public var release: [String] = []
    /// Why, in words, for the log and the events.
    public var reason: String = ""
    public var isEmpty: Bool { add.isEmpty && release.isEmpty }
    public init(pool: String, add: [String] = [], release: [String] = [], reason: String = "") {
        self.pool = pool
        self.add = add
        self.release = release
        self.reason = reason
    }
}

/// Decides when a managed pool takes more IPs and when it gives some back, from demand
/// per provider (an hourly moving average) against what the pool's IPs can safely send.
///
/// - **Scale out** when, for some provider, demand exceeds what the active IPs can send
///   now. Beyond what they could send even when fully warm (`active × ceiling ×
///   headroom`, the ceiling being the learned per-IP ceiling of a saturated provider, or
///   else the profile's `warmHourly`), the pool takes as many IPs as that needs at once
///   (a provider with a low ceiling per IP, like Apple: the same hour, up to `maxIPs`);
///   within it, one more IP a round, so that more IPs warm up side by side while the
///   excess spills or waits (new IPs start cold, so the pool takes them as soon as the
///   need shows).
/// - **Scale in** after `scaleInAfter` consecutive plans (a day: sustained, not a quiet
///   night) in which the active IPs other
///   than the coldest could carry every provider's demand at `scaleInUtilization` of
///   their current allowances: release the coldest, least recently used IP, never below
///   `minIPs`.
public struct PoolPlanner: Sendable {
    /// The share of the warm ceilings the pool plans to use.
    public var headroom: Double = 0.8
    public var scaleInUtilization: Double = 0.3
    public var scaleInAfter: Int = 24
    /// At most this many IPs are added by one plan while the pool warms (a saturated
    /// provider takes what it needs at once).
    public var maxStep: Int = 2
    private var underUsed: [String: Int] = [:]

    public init() {}

    /// One planning round for `pool`.
    /// - Parameter demand: messages per hour wanted, per provider (a moving average).
    public mutating func plan(_ pool: PoolView, demand: [MailboxProvider: Double]) -> PoolPlan {
        var plan = PoolPlan(pool: pool.name)
        guard pool.managed else { return plan }
        let active = pool.ips.filter(\.active)
        let idle = pool.ips.filter { !$0.active }

        // How many IPs each provider's demand needs at its warm ceiling.
        var needed = active.count
        var step = maxStep
        var cause: (MailboxProvider, Double, Int)?
        for (provider, wanted) in demand.sorted(by: { $0.key < $1.key }) where wanted > 0 {
            guard let profile = pool.profiles[provider] else { continue }
            let now = active.reduce(0.0) { $0 + ($1.pairs[provider]?.hourly ?? profile.coldHourly) }
            guard wanted > now else { continue }
            let perIP = pool.ceilings[provider] ?? profile.warmHourly
            let ceiling = Double(active.count) * perIP * headroom
            // Beyond what the IPs could carry even when warm: as many as that needs.
            // Within it but beyond today's allowances: one more IP a round while the
            // pool warms, so that more IPs warm up side by side (they start cold).
            let ips = wanted > ceiling ? Int(saturating: (wanted / (perIP * headroom)).rounded(.up)) : active.count + 1
            if ips > needed {
                needed = ips
                cause = (provider, wanted, ips)
                if wanted > ceiling { step = max(step, ips - active.count) }
            }
        }
        let target = min(pool.maxIPs, needed)
        if target > active.count, !idle.isEmpty {
            // The warmest idle IPs for the provider that needs them first.
            let provider = cause?.0
            let ranked = idle.sorted { ($0.pairs[provider ?? .other]?.level ?? 0) > ($1.pairs[provider ?? .other]?.level ?? 0) }
            plan.add = ranked.prefix(min(step, target - active.count)).map(\.ip)
            if let (provider, wanted, ips) = cause {
                plan.reason = "\(provider) wants \(Int(saturating: wanted))/h, more than \(active.count) IP(s) can carry now; planning \(ips)"
            }
            underUsed[pool.name] = 0
            return plan
        }

        // Scale in: could the IPs without the coldest carry everything, at today's
        // allowances, at a comfortable utilization?
        guard active.count > pool.minIPs else { return plan }
        // Summed in provider order: a sum in the dictionary's (per-process) order can differ
        // in its last bit and turn a tie, and then two runs of one scenario would differ.
        func warmth(_ ip: PoolView.IP) -> Double { ip.pairs.sorted { $0.key < $1.key }.reduce(0) { $0 + $1.value.level } }
        let coldest = active.min { warmth($0) < warmth($1) }!.ip
        let fits = demand.allSatisfy { provider, wanted in
            guard wanted > 0, let profile = pool.profiles[provider] else { return true }
            let rest = active.filter { $0.ip != coldest }.reduce(0.0) { $0 + ($1.pairs[provider]?.hourly ?? profile.coldHourly) }
            return wanted <= rest * scaleInUtilization
        }
        guard fits else {
            underUsed[pool.name] = 0
            return plan
        }
        let rounds = (underUsed[pool.name] ?? 0) + 1
        underUsed[pool.name] = rounds
        guard rounds >= scaleInAfter else { return plan }
        func lastUse(_ ip: PoolView.IP) -> Int64 { ip.pairs.values.compactMap(\.lastSentAt?.nanoseconds).max() ?? .min }
        let victim = active.min { a, b in
            warmth(a) != warmth(b) ? warmth(a) < warmth(b) : lastUse(a) < lastUse(b)
        }!
        plan.release = [victim.ip]
        plan.reason = "demand fits in \(active.count - 1) IP(s) for \(rounds) plans; releasing the coldest"
        underUsed[pool.name] = 0
        return plan
    }
}
