/// Where a message goes next.
public enum RouteDecision: Hashable, Sendable {
    /// Send now from this dedicated source address.
    case dedicated(ip: String)
    /// No IP of the pool may send to this provider now: try again at this time.
    case deferred(until: Timestamp)
}

/// Chooses a source IP of a pool for a message to a provider, and keeps per
/// (IP, provider) suspensions after throttles and blocks. A value type: the engine keeps
/// it behind a lock, the simulation drives it directly.
///
/// The IP choice is round-robin over the pool's IPs that are not suspended for the
/// provider, so that every IP builds its own history with every provider evenly.
public struct Router: Sendable {
    public struct Pair: Hashable, Sendable {
        public var ip: String
        public var provider: MailboxProvider
        public init(ip: String, provider: MailboxProvider) {
            self.ip = ip
            self.provider = provider
        }
    }

    /// How long a pair rests after a policy block (5.7.x).
    public var blockSuspension: Duration
    private var ipsByPool: [String: [String]]
    private var nextIndex: [String: Int] = [:]
    private var suspendedUntil: [Pair: Timestamp] = [:]
    private let profiles: @Sendable (MailboxProvider) -> ProviderProfile

    public init(pools: [Configuration.Pool], blockSuspension: Duration = .seconds(12 * 3600), profiles: @escaping @Sendable (MailboxProvider) -> ProviderProfile) {
        self.ipsByPool = Dictionary(pools.map { ($0.name, $0.ips) }, uniquingKeysWith: { a, _ in a })
        self.blockSuspension = blockSuspension
        self.profiles = profiles
    }

    /// Picks the next IP of `pool` that may send to `provider` at `now`.
    public mutating func route(provider: MailboxProvider, pool: String, now: Timestamp) -> RouteDecision {
        guard let ips = ipsByPool[pool], !ips.isEmpty else { return .deferred(until: now + .seconds(60)) }
        let key = "\(pool)\u{0}\(provider.id)"
        let start = nextIndex[key, default: 0]
        var earliest: Timestamp?
        for offset in 0..<ips.count {
            let ip = ips[(start + offset) % ips.count]
            let until = suspendedUntil[Pair(ip: ip, provider: provider)]
            if let until, until > now {
                earliest = min(earliest ?? until, until)
                continue
            }
            nextIndex[key] = (start + offset + 1) % ips.count
            return .dedicated(ip: ip)
        }
        return .deferred(until: earliest ?? now + .seconds(60))
    }

    /// Feeds a reply back: a throttle rests the pair for the provider's backoff, a policy
    /// block for `blockSuspension`. Per-recipient and per-message replies change nothing.
    /// - Returns: the time the pair is suspended until, when it is.
    @discardableResult
    public mutating func record(_ reply: SMTPReply, ip: String, provider: MailboxProvider, now: Timestamp) -> Timestamp? {
        let classification = reply.classification
        let pair = Pair(ip: ip, provider: provider)
        switch (classification.replyClass, classification.scope) {
        case (.throttle, .ip):
            let until = now + profiles(provider).throttleBackoff
            suspendedUntil[pair] = max(suspendedUntil[pair] ?? until, until)
            return until
        case (.permanentPolicy, _):
            let until = now + blockSuspension
            suspendedUntil[pair] = max(suspendedUntil[pair] ?? until, until)
            return until
        default:
            return nil
        }
    }

    /// The time the pair may send again, if it is suspended at `now`.
    public func suspension(ip: String, provider: MailboxProvider, now: Timestamp) -> Timestamp? {
        guard let until = suspendedUntil[Pair(ip: ip, provider: provider)], until > now else { return nil }
        return until
    }
}
