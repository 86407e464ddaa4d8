import KilnCore
import Synchronization

/// Where a domain's mail goes (RFC 5321 §5.1): its MX hosts by preference, each with its
/// addresses; the domain itself (its A/AAAA records) when it has no MX; nowhere for a
/// null MX (RFC 7505) or a domain that does not exist. Answers are cached for their TTL,
/// clamped to `CachePolicy`'s floor and ceiling; negative answers briefly.
public final class MXResolver: Sendable {
    /// One mail exchanger.
    public struct Host: Sendable, Hashable {
        public var name: String
        public var preference: Int
        /// IPv4 and IPv6 addresses, as the name servers gave them.
        public var addresses: [String]
        public init(name: String, preference: Int, addresses: [String]) {
            self.name = name
            self.preference = preference
            self.addresses = addresses
        }
    }

    public enum Answer: Sendable, Hashable {
        /// Hosts by preference, most preferred first (equal ones in the order served:
        /// the caller shuffles them per attempt).
        case hosts([Host])
        /// A null MX (RFC 7505): the domain accepts no mail.
        case nullMX
        /// The domain does not exist (NXDOMAIN), or has neither MX nor address records.
        case noSuchDomain
        /// No usable answer now (time-out, SERVFAIL, MX hosts without addresses): try later.
        case temporaryFailure(String)
    }

    /// How long answers are kept, in seconds of the engine's clock.
    ///
    /// | answer | kept for |
    /// |---|---|
    /// | hosts, null MX | the smallest TTL of the records used, between `floor` and `ceiling` |
    /// | no such domain | the SOA minimum (RFC 2308), at most `negativeCeiling`; `negativeDefault` without one |
    /// | temporary failure | `failure` |
    public struct CachePolicy: Sendable, Hashable {
        public var floor: Duration = .seconds(1)
        public var ceiling: Duration = .seconds(3600)
        public var negativeDefault: Duration = .seconds(60)
        public var negativeCeiling: Duration = .seconds(300)
        public var failure: Duration = .seconds(10)
        /// The most MX hosts whose addresses are looked up.
        public var maxHosts = 10
        public init() {}
    }

    public let client: DNSClient
    let policy: CachePolicy
    let now: @Sendable () -> Timestamp
    private let cache = Mutex<[String: (answer: Answer, expires: Timestamp)]>([:])

    public init(client: DNSClient, policy: CachePolicy = CachePolicy(), now: @escaping @Sendable () -> Timestamp) {
        self.client = client
        self.policy = policy
        self.now = now
    }

    /// Looks up `domains` at once, at most `concurrency` in flight, so that their answers
    /// are in the cache: a domain whose name servers never answer costs one timeout for
    /// all of them, and holds up no other domain.
    public func prefetch(_ domains: some Sequence<String>, concurrency: Int = 32) async {
        var pending = Set(domains.map(DNSMessage.normalized)).makeIterator()
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<max(1, concurrency) {
                guard let domain = pending.next() else { break }
                group.addTask { _ = await self.lookup(domain) }
            }
            while await group.next() != nil {
                if let domain = pending.next() { group.addTask { _ = await self.lookup(domain) } }
            }
        }
    }

    public func lookup(_ domain: String) async -> Answer {
        let key = DNSMessage.normalized(domain)
        let time = now()
        if let cached = cache.withLock({ $0[key] }), cached.expires > time { return cached.answer }
        let (answer, lifetime) = await resolve(key)
        cache.withLock { cache in
            if cache.count >= 100_000 {
                cache = cache.filter { $0.value.expires > time }
                if cache.count >= 100_000 { cache.removeAll() }
            }
            cache[key] = (answer, time + lifetime)
        }
        return answer
    }

    func resolve(_ domain: String) async -> (Answer, Duration) {
        let reply: DNSMessage
        switch await client.query(domain, type: .mx) {
        case .failure(let failure): return (.temporaryFailure(failure.description), policy.failure)
        case .success(let message): reply = message
        }
        if reply.responseCode == .nameError { return (.noSuchDomain, negativeLifetime(reply)) }
        guard reply.responseCode == .noError else {
            return (.temporaryFailure("the name server answered \(domain) MX with RCODE \(reply.responseCode.rawValue)"), policy.failure)
        }
        // MX records of the domain asked for (or of its CNAME chain) only.
        let owners = Self.owners(of: DNSMessage.normalized(domain), in: reply.answers)
        let records: [(preference: Int, exchange: String, ttl: UInt32)] = reply.answers.compactMap { record in
            guard owners.contains(record.name), case .mx(let preference, let exchange) = record.data else { return nil }
            return (Int(preference), exchange, record.ttl)
        }
        if records.isEmpty {
            // No MX: the domain itself is the implicit MX, with preference 0.
            let found = await addresses(of: domain)
            if !found.addresses.isEmpty {
                return (.hosts([Host(name: domain, preference: 0, addresses: found.addresses)]), clamp(min(found.ttl, UInt32.max)))
            }
            if let failure = found.failure { return (.temporaryFailure(failure), policy.failure) }
            if reply.answers.contains(where: { $0.type == .cname }) {
                // An alias that leads nowhere (a CNAME loop, a chain cut short) is a fault of
                // the receiver's DNS that may be mended: never a reason to suppress anyone.
                return (.temporaryFailure("the CNAME chain of \(domain) does not end in an MX or an address"), policy.failure)
            }
            return (.noSuchDomain, negativeLifetime(reply))
        }
        let exchanges = records.filter { !$0.exchange.isEmpty }
        if exchanges.isEmpty { return (.nullMX, clamp(records.map(\.ttl).min() ?? 0)) }
        var ttl = exchanges.map(\.ttl).min() ?? 0
        var hosts: [Host] = []
        var failures: [String] = []
        for record in exchanges.sorted(by: { $0.preference < $1.preference }).prefix(policy.maxHosts) {
            let found = await addresses(of: record.exchange, additional: reply.additional)
            if let failure = found.failure { failures.append(failure) }
            guard !found.addresses.isEmpty else { continue }
            ttl = min(ttl, found.ttl)
            hosts.append(Host(name: record.exchange, preference: record.preference, addresses: found.addresses))
        }
        if hosts.isEmpty {
            let why = failures.isEmpty ? "no MX host of \(domain) has an address" : failures.joined(separator: "; ")
            return (.temporaryFailure(why), policy.failure)
        }
        return (.hosts(hosts), clamp(ttl))
    }

    /// A host's A and AAAA records (from the MX answer's additional section when it has
    /// them), the smallest TTL, and why a lookup failed (a missing record is no failure).
    func addresses(of host: String, additional: [DNSMessage.Record] = []) async -> (addresses: [String], ttl: UInt32, failure: String?) {
        let given = additional.filter { $0.name == host && ($0.type == .a || $0.type == .aaaa) }
        if !given.isEmpty {
            return (given.compactMap { if case .address(let a) = $0.data { a } else { nil } }, given.map(\.ttl).min() ?? 0, nil)
        }
        var found: [String] = []
        var ttl = UInt32.max
        var failure: String?
        for type in [DNSMessage.RecordType.a, .aaaa] {
            switch await client.query(host, type: type) {
            case .failure(let error):
                failure = error.description
            case .success(let reply):
                if reply.responseCode != .noError && reply.responseCode != .nameError {
                    failure = "the name server answered \(host) \(type) with RCODE \(reply.responseCode.rawValue)"
                }
                // Only records of the name asked for (or of its CNAME chain): an unrelated
                // address a server adds to the answer is not this host's.
                let owners = Self.owners(of: DNSMessage.normalized(host), in: reply.answers)
                for record in reply.answers where record.type == type && owners.contains(record.name) {
                    if case .address(let address) = record.data {
                        found.append(address)
                        ttl = min(ttl, record.ttl)
                    }
                }
            }
        }
        return (found, ttl, found.isEmpty ? failure : nil)
    }

    /// `name` and the names its CNAME records in `answers` lead to (at most 8 steps).
    static func owners(of name: String, in answers: [DNSMessage.Record]) -> Set<String> {
        var owners: Set<String> = [name.lowercased()]
        var current = name.lowercased()
        for _ in 0..<8 {
            guard let next = answers.first(where: { $0.type == .cname && $0.name == current }),
                  case .name(let target) = next.data, owners.insert(target.lowercased()).inserted else { break }
            current = target.lowercased()
        }
        return owners
    }

    func clamp(_ ttl: UInt32) -> Duration {
        min(max(.seconds(Int64(ttl)), policy.floor), policy.ceiling)
    }

    /// RFC 2308 §5: the SOA's MINIMUM (or the SOA record's TTL, if smaller) from the
    /// authority section, capped.
    func negativeLifetime(_ reply: DNSMessage) -> Duration {
        let soa = reply.authority.compactMap { record -> UInt32? in
            if case .soa(let minimum) = record.data { min(minimum, record.ttl) } else { nil }
        }.min()
        guard let soa else { return policy.negativeDefault }
        return min(max(.seconds(Int64(soa)), policy.floor), policy.negativeCeiling)
    }
}
