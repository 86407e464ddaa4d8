import KilnCore

/// DNS answers as the sender-authentication checks need them; the resolver (`DNSClient`)
/// or a test's table provides them.
public protocol DNSLookups: Sendable {
    func lookup(_ name: String, _ type: DNSMessage.RecordType) async -> DNSLookupResult
}

public enum DNSLookupResult: Sendable, Hashable {
    case records([DNSMessage.RecordData])
    /// NXDOMAIN, or the name has no record of that type.
    case nothing
    /// No answer (time-out, SERVFAIL).
    case failure(String)

    /// The TXT strings of each record, joined (RFC 7208 §3.3).
    public var texts: [String] {
        guard case .records(let records) = self else { return [] }
        return records.compactMap { if case .text(let parts) = $0 { parts.joined() } else { nil } }
    }

    public var addresses: [String] {
        guard case .records(let records) = self else { return [] }
        return records.compactMap { if case .address(let a) = $0 { a } else { nil } }
    }

    public var names: [String] {
        guard case .records(let records) = self else { return [] }
        return records.compactMap { if case .name(let n) = $0 { n } else { nil } }
    }
}

/// SPF (RFC 7208) `check_host()` for one IP and domain: `ip4`, `ip6`, `a`, `mx`,
/// `include`, `exists`, `all` and `redirect`, with the limit of 10 DNS-querying terms
/// (§4.6.4) and 2 void lookups. Macros (§7) and `ptr` are not evaluated: a record that
/// uses them is reported as a permanent error naming the term.
public struct SPFEvaluator: Sendable {
    public enum Result: String, Sendable, Hashable, Codable {
        case pass, fail, softfail, neutral, none, temperror, permerror
    }

    public struct Outcome: Sendable, Hashable {
        public var result: Result
        /// The term that decided it, or why there is no answer.
        public var reason: String
        /// DNS-querying terms used.
        public var lookups: Int
    }

    public static let lookupLimit = 10
    public static let voidLookupLimit = 2
    let dns: any DNSLookups

    public init(dns: any DNSLookups) { self.dns = dns }

    public func check(ip: String, domain: String) async -> Outcome {
        guard let address = IPAddressBytes.parse(ip) else { return Outcome(result: .permerror, reason: "\(ip) is not an IP address", lookups: 0) }
        let counter = Counter()
        let (result, reason) = await checkHost(address, domain: DNSMessage.normalized(domain), counter: counter)
        return Outcome(result: result, reason: reason, lookups: counter.lookups)
    }

    final class Counter: @unchecked Sendable {
        var lookups = 0
        var voids = 0
    }

    struct LimitExceeded: Error {}

    func checkHost(_ ip: [UInt8], domain: String, counter: Counter) async -> (Result, String) {
        let answer = await dns.lookup(domain, .txt)
        if case .failure(let why) = answer { return (.temperror, "TXT lookup of \(domain) failed: \(why)") }
        let records = answer.texts.filter { $0.lowercased() == "v=spf1" || $0.lowercased().hasPrefix("v=spf1 ") }
        guard !records.isEmpty else { return (.none, "\(domain) has no SPF record") }
        guard records.count == 1 else { return (.permerror, "\(domain) has \(records.count) SPF records (one is allowed)") }
        var redirect: String?
        for term in records[0].split(separator: " ").dropFirst().map(String.init) where !term.isEmpty {
            if term.lowercased().hasPrefix("redirect=") {
                redirect = String(term.dropFirst(9))
                continue
            }
            if term.contains("=") { continue }  // exp= and unknown modifiers
            var qualifier = Result.pass
            var mechanism = Substring(term)
            switch mechanism.first {
            case "+": mechanism = mechanism.dropFirst()
            case "-": qualifier = .fail; mechanism = mechanism.dropFirst()
            case "~": qualifier = .softfail; mechanism = mechanism.dropFirst()
            case "?": qualifier = .neutral; mechanism = mechanism.dropFirst()
            default: break
            }
            if mechanism.contains("%") { return (.permerror, "\(domain): '\(term)' uses a macro, which kiln identity check does not expand") }
            let matched: Bool
            do {
                guard let result = try await matches(String(mechanism), ip: ip, domain: domain, counter: counter) else {
                    return (.permerror, "\(domain): unknown or unsupported mechanism '\(term)'")
                }
                switch result {
                case .matched(let value): matched = value
                case .error(let r, let why): return (r, why)
                }
            } catch {
                return (.permerror, "more than \(Self.lookupLimit) DNS lookups (RFC 7208 §4.6.4), reached at \(domain) '\(term)'")
            }
            if matched { return (qualifier, "\(domain): '\(term)'") }
        }
        if let redirect {
            do { try count(counter) } catch { return (.permerror, "more than \(Self.lookupLimit) DNS lookups (RFC 7208 §4.6.4), reached at \(domain) redirect") }
            let (result, why) = await checkHost(ip, domain: DNSMessage.normalized(redirect), counter: counter)
            return (result == .none ? .permerror : result, why)
        }
        return (.neutral, "\(domain): no term matched (no 'all')")
    }

    enum Match {
        case matched(Bool)
        case error(Result, String)
    }

    func count(_ counter: Counter) throws(LimitExceeded) {
        counter.lookups += 1
        if counter.lookups > Self.lookupLimit { throw LimitExceeded() }
    }

    /// nil for an unknown mechanism.
    func matches(_ mechanism: String, ip: [UInt8], domain: String, counter: Counter) async throws(LimitExceeded) -> Match? {
        let lower = mechanism.lowercased()
        let (name, argument) = lower.firstIndex(where: { $0 == ":" || $0 == "/" }).map { index in
            (String(lower[..<index]), String(lower[index...]))
        } ?? (lower, "")
        switch name {
        case "all":
            return .matched(true)
        case "ip4", "ip6":
            guard argument.hasPrefix(":") else { return nil }
            let (text, prefix) = Self.split(cidr: String(argument.dropFirst()))
            guard let network = IPAddressBytes.parse(text), network.count == (name == "ip4" ? 4 : 16) else { return nil }
            return .matched(IPAddressBytes.matches(ip, network: network, prefixLength: prefix ?? network.count * 8))
        case "include", "exists", "a", "mx":
            try count(counter)
            var target = domain
            var rest = argument
            if rest.hasPrefix(":") {
                let body = rest.dropFirst()
                let slash = body.firstIndex(of: "/") ?? body.endIndex
                target = DNSMessage.normalized(String(body[..<slash]))
                rest = String(body[slash...])
            }
            if name == "include" {
                guard target != domain || argument.hasPrefix(":") else { return nil }
                let (result, why) = await checkHost(ip, domain: target, counter: counter)
                switch result {
                case .pass: return .matched(true)
                case .fail, .softfail, .neutral: return .matched(false)
                case .temperror: return .error(.temperror, why)
                case .permerror: return .error(.permerror, why)
                case .none: return .error(.permerror, "include:\(target) has no SPF record")
                }
            }
            let (prefix4, prefix6) = Self.dualCIDR(rest)
            var hosts = [target]
            if name == "mx" {
                let answer = await dns.lookup(target, .mx)
                if case .failure(let why) = answer { return .error(.temperror, "MX lookup of \(target) failed: \(why)") }
                hosts = answer.mxExchanges
                if hosts.count > 10 { return .error(.permerror, "mx:\(target) has more than 10 MX records (RFC 7208 §4.6.4)") }
                if hosts.isEmpty { try void(counter) }
            }
            let type: DNSMessage.RecordType = name == "exists" ? .a : (ip.count == 4 ? .a : .aaaa)
            var found = false
            for host in hosts {
                let answer = await dns.lookup(host, type)
                if case .failure(let why) = answer { return .error(.temperror, "\(type) lookup of \(host) failed: \(why)") }
                let addresses = answer.addresses
                if addresses.isEmpty && name != "mx" { try void(counter) }
                if name == "exists" {
                    found = found || !addresses.isEmpty
                    continue
                }
                for address in addresses {
                    guard let bytes = IPAddressBytes.parse(address), bytes.count == ip.count else { continue }
                    if IPAddressBytes.matches(ip, network: bytes, prefixLength: (ip.count == 4 ? prefix4 : prefix6) ?? ip.count * 8) { found = true }
                }
            }
            return .matched(found)
        default:
            return nil
        }
    }

    func void(_ counter: Counter) throws(LimitExceeded) {
        counter.voids += 1
        if counter.voids > Self.voidLookupLimit { throw LimitExceeded() }
    }

    /// `addr/len`.
    static func split(cidr: String) -> (String, Int?) {
        guard let slash = cidr.firstIndex(of: "/") else { return (cidr, nil) }
        return (String(cidr[..<slash]), Int(cidr[cidr.index(after: slash)...]))
    }

    /// `/24//64`, `/24`, `//64` or nothing.
    static func dualCIDR(_ text: String) -> (Int?, Int?) {
        guard text.hasPrefix("/") else { return (nil, nil) }
        if text.hasPrefix("//") { return (nil, Int(text.dropFirst(2))) }
        let parts = text.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
        return (Int(parts[0]), parts.count == 3 ? Int(parts[2]) : nil)
    }
}

extension DNSLookupResult {
    /// MX exchanges by preference (a null MX's empty name left out).
    public var mxExchanges: [String] {
        guard case .records(let records) = self else { return [] }
        return records.compactMap { record -> (UInt16, String)? in
            if case .mx(let preference, let exchange) = record, !exchange.isEmpty { (preference, exchange) } else { nil }
        }.sorted { $0.0 < $1.0 }.map(\.1)
    }
}
