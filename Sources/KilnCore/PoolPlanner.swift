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
    public init(name: String, ips: [IP], minIPs: Int, maxIPs: Int, managed: Bool, profiles: [MailboxProvider: ProviderProfile]) {
        self.name = name
        self.ips = ips
        self.minIPs = minIPs
        self.maxIPs = maxIPs
        self.managed = managed
        self.profiles = profiles
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
}

/// Decides when a managed pool takes more IPs and when it gives some back, from demand
/// per provider (an hourly moving average) against what the pool's IPs can safely send.
///
/// - **Scale out** when, for some provider, demand exceeds what the active IPs can send
///   now *and* what they could send even when fully warm (`active × warmHourly ×
///   headroom`): a provider with a low ceiling per IP (Apple, Yahoo for a new sender)
///   then spreads over more IPs. Demand above today's allowance but within the warm
///   ceiling is a warm-up matter, not a scaling one: spill-over and deferral cover it.
///   New IPs start cold, so the pool takes them early, as soon as the need shows.
/// - **Scale in** after `scaleInAfter` consecutive plans in which the pool, without one
///   IP, could still carry every provider's demand at `scaleInUtilization` of its warm
///   ceilings: release the coldest, least recently used IP, never below `minIPs`.
public struct PoolPlanner: Sendable {
    /// The share of the warm ceilings the pool plans to use.
    public var headroom: Double = 0.8
    public var scaleInUtilization: Double = 0.3
    public var scaleInAfter: Int = 3
    /// At most this many IPs are added by one plan.
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
        var cause: (MailboxProvider, Double, Int)?
        for (provider, wanted) in demand.sorted(by: { $0.key < $1.key }) where wanted > 0 {
            guard let profile = pool.profiles[provider] else { continue }
            let now = active.reduce(0.0) { $0 + ($1.pairs[provider]?.hourly ?? profile.coldHourly) }
            let ceiling = Double(active.count) * profile.warmHourly * headroom
            guard wanted > now, wanted > ceiling else { continue }
            let ips = Int((wanted / (profile.warmHourly * headroom)).rounded(.up))
            if ips > needed {
                needed = ips
                cause = (provider, wanted, ips)
            }
        }
        let target = min(pool.maxIPs, needed)
        if target > active.count, !idle.isEmpty {
            // The warmest idle IPs for the provider that needs them first.
            let provider = cause?.0
            let ranked = idle.sorted { ($0.pairs[provider ?? .other]?.level ?? 0) > ($1.pairs[provider ?? .other]?.level ?? 0) }
            plan.add = ranked.prefix(min(maxStep, target - active.count)).map(\.ip)
            if let (provider, wanted, ips) = cause {
                plan.reason = "\(provider) wants \(Int(wanted))/h, more than \(active.count) IP(s) can carry even when warm; it needs \(ips)"
            }
            underUsed[pool.name] = 0
            return plan
        }

        // Scale in: could one IP fewer carry everything at a comfortable utilization?
        guard active.count > pool.minIPs else { return plan }
        let fits = demand.allSatisfy { provider, wanted in
            guard wanted > 0, let profile = pool.profiles[provider] else { return true }
            return wanted <= Double(active.count - 1) * profile.warmHourly * scaleInUtilization
        }
        guard fits else {
            underUsed[pool.name] = 0
            return plan
        }
        let rounds = (underUsed[pool.name] ?? 0) + 1
        underUsed[pool.name] = rounds
        guard rounds >= scaleInAfter else { return plan }
        func warmth(_ ip: PoolView.IP) -> Double { ip.pairs.values.reduce(0) { $0 + $1.level } }
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
