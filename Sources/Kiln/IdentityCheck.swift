import Foundation
import KilnConfiguration
import KilnCore
import KilnDNS
import KilnMessage

/// One result of `kiln identity check`: what was checked, for which domain or IP, whether
/// it passed, what is wrong and what record would fix it.
public struct IdentityFinding: Sendable, Hashable, Codable {
    public enum Check: String, Sendable, Hashable, Codable { case dkim, spf, dmarc, fcrdns }
    public var check: Check
    /// A domain or an IP.
    public var subject: String
    public var passed: Bool
    public var message: String
    /// The DNS record (or setting) that would make it pass.
    public var fix: String?
}

/// The sender-authentication checks the 2024 Gmail/Yahoo bulk-sender rules and Microsoft's
/// 2025 rules require, through DNS (`delivery.nameservers` when set):
///
/// | check | passes when |
/// |---|---|
/// | DKIM | the TXT at `selector._domainkey.domain` holds the configured key's public key |
/// | SPF | the domain's and the return-path domain's SPF pass every pool IP (RFC 7208, 10 lookups) |
/// | DMARC | `_dmarc.domain` (or the organizational domain's) has `v=DMARC1` and `p=none`, `quarantine` or `reject`, and DKIM or SPF aligns as published (`adkim`/`aspf`) |
/// | FCrDNS | each pool IP's PTR names a host whose A/AAAA holds the IP, and the HELO name is such a name |
///
/// The organizational domain is taken as the last two labels (no public-suffix list):
/// relaxed alignment of `bounce.example.com` with `example.com` holds, of `example.co.uk`
/// with `other.co.uk` would be wrongly accepted.
struct IdentityChecker: Sendable {
    let configuration: Configuration
    let secrets: SecretSource
    let dns: any DNSLookups

    func run() async -> [IdentityFinding] {
        var findings: [IdentityFinding] = []
        let ips = configuration.pools.flatMap(\.ips)
        for (index, identity) in configuration.identities.enumerated() {
            let domain = DNSMessage.normalized(identity.domain)
            let keys = identity.dkim ?? []
            let dkimFindings = await dkim(domain, keys: keys, index: index)
            findings += dkimFindings
            let returnPath = DNSMessage.normalized(identity.returnPathDomain ?? identity.domain)
            var returnPathSPFPasses = false
            for spfDomain in Set([domain, returnPath]).sorted() {
                let spfFindings = await spf(spfDomain, ips: ips)
                findings += spfFindings
                if spfDomain == returnPath { returnPathSPFPasses = !spfFindings.isEmpty && spfFindings.allSatisfy(\.passed) }
            }
            // DMARC counts only what passes (RFC 7489 §3.1): an aligned domain whose DKIM or
            // SPF fails aligns nothing.
            findings.append(await dmarc(domain, returnPath: returnPath, dkimPasses: !keys.isEmpty && dkimFindings.allSatisfy(\.passed),
                                        spfPasses: returnPathSPFPasses))
        }
        for ip in ips { findings.append(await fcrdns(ip)) }
        return findings
    }

    func dkim(_ domain: String, keys: [Configuration.DKIMKey], index: Int) async -> [IdentityFinding] {
        guard !keys.isEmpty else {
            return [IdentityFinding(check: .dkim, subject: domain, passed: false, message: "no DKIM key is configured: mail from \(domain) is unsigned",
                                    fix: "add identities[\(index)].dkim with a selector and a private key, and publish its public key")]
        }
        var findings: [IdentityFinding] = []
        for (keyIndex, key) in keys.enumerated() {
            let name = "\(key.selector)._domainkey.\(domain)"
            let loaded: DKIMKey
            do {
                loaded = try DKIMKey.load(path: secrets.resolve(key.privateKeyFile), expectedAlgorithm: key.algorithm,
                                          allowInsecure: key.allowInsecureKeyFile ?? false, field: "identities[\(index)].dkim[\(keyIndex)]")
            } catch {
                findings.append(IdentityFinding(check: .dkim, subject: domain, passed: false, message: "\(name): \(error.message)", fix: nil))
                continue
            }
            let wanted = "v=DKIM1; k=\(loaded.algorithm.hasPrefix("ed25519") ? "ed25519" : "rsa"); p=\(loaded.publicKeyRecord)"
            let fix = "TXT \(name) \"\(wanted)\""
            let answer = await dns.lookup(name, .txt)
            if case .failure(let why) = answer {
                findings.append(IdentityFinding(check: .dkim, subject: domain, passed: false, message: "\(name): lookup failed: \(why)", fix: nil))
                continue
            }
            let published = answer.texts.compactMap { Self.tags($0)["p"].map { $0.filter { !$0.isWhitespace } } }
            if published.isEmpty {
                findings.append(IdentityFinding(check: .dkim, subject: domain, passed: false, message: "\(name) has no DKIM record", fix: fix))
            } else if published.contains(loaded.publicKeyRecord) {
                findings.append(IdentityFinding(check: .dkim, subject: domain, passed: true, message: "\(name) holds the key Kiln signs with", fix: nil))
            } else {
                let why = published.contains("") ? "is revoked (empty p=)" : "holds another public key than the configured private key's"
                findings.append(IdentityFinding(check: .dkim, subject: domain, passed: false, message: "\(name) \(why)", fix: fix))
            }
        }
        return findings
    }

    /// SPF for every pool IP on `domain`. A fix names one record for all of them: a name
    /// may hold only one SPF record (RFC 7208 §3.2; two are a permerror).
    func spf(_ domain: String, ips: [String]) async -> [IdentityFinding] {
        var outcomes: [(ip: String, outcome: SPFEvaluator.Outcome)] = []
        for ip in ips { outcomes.append((ip, await SPFEvaluator(dns: dns).check(ip: ip, domain: domain))) }
        let missing = outcomes.filter { $0.outcome.result != .pass }.map { Self.mechanism($0.ip) }
        let all = ips.map(Self.mechanism).joined(separator: " ")
        return outcomes.map { ip, outcome in
            if outcome.result == .pass {
                return IdentityFinding(check: .spf, subject: domain, passed: true, message: "\(ip) is authorized (\(outcome.reason); \(outcome.lookups) lookups)", fix: nil)
            }
            let fix: String
            switch outcome.result {
            case .none: fix = "TXT \(domain) \"v=spf1 \(all) -all\" (one record for every IP of the pool)"
            case .permerror where outcome.reason.contains("DNS lookups"):
                fix = "flatten the SPF record of \(domain) to at most \(SPFEvaluator.lookupLimit) lookups (include loops count until the limit), with \(missing.joined(separator: " "))"
            case .permerror where outcome.reason.lowercased().contains("multiple") || outcome.reason.lowercased().contains("records"):
                fix = "merge the SPF records of \(domain) into one (RFC 7208 §3.2 allows one), with \(missing.joined(separator: " "))"
            default: fix = "add \(missing.joined(separator: " ")) to the SPF record of \(domain), before its 'all' (edit the one record: a second v=spf1 record would make both fail)"
            }
            return IdentityFinding(check: .spf, subject: domain, passed: false, message: "\(ip) is not authorized: \(outcome.result.rawValue) (\(outcome.reason))", fix: fix)
        }
    }

    static func mechanism(_ ip: String) -> String { ip.contains(":") ? "ip6:\(ip)" : "ip4:\(ip)" }

    func dmarc(_ domain: String, returnPath: String, dkimPasses: Bool, spfPasses: Bool) async -> IdentityFinding {
        let organizational = Self.organizationalDomain(domain)
        var record: [String: String]?
        var at = "_dmarc.\(domain)"
        for candidate in Set([domain, organizational]).sorted(by: { $0.count > $1.count }) {
            at = "_dmarc.\(candidate)"
            let answer = await dns.lookup(at, .txt)
            if case .failure(let why) = answer {
                return IdentityFinding(check: .dmarc, subject: domain, passed: false, message: "\(at): lookup failed: \(why)", fix: nil)
            }
            if let found = answer.texts.first(where: { $0.lowercased().hasPrefix("v=dmarc1") }) {
                record = Self.tags(found)
                break
            }
        }
        let fix = "TXT _dmarc.\(domain) \"v=DMARC1; p=none; rua=mailto:dmarc-reports@\(domain)\""
        guard let record else {
            return IdentityFinding(check: .dmarc, subject: domain, passed: false, message: "no DMARC record at _dmarc.\(domain)", fix: fix)
        }
        guard let policy = record["p"]?.lowercased(), ["none", "quarantine", "reject"].contains(policy) else {
            return IdentityFinding(check: .dmarc, subject: domain, passed: false, message: "\(at) has no valid p= (none, quarantine or reject)", fix: fix)
        }
        let strictDKIM = record["adkim"]?.lowercased() == "s"
        let strictSPF = record["aspf"]?.lowercased() == "s"
        // Kiln signs with d= the identity's domain, the From domain: DKIM aligns when its key
        // passes; SPF when the return path's SPF passes and its domain aligns.
        let dkimAligned = dkimPasses
        let spfAligned = spfPasses && (strictSPF ? returnPath == domain : Self.organizationalDomain(returnPath) == organizational)
        guard dkimAligned || spfAligned else {
            return IdentityFinding(check: .dmarc, subject: domain, passed: false,
                                   message: "\(at) p=\(policy), but neither DKIM nor SPF (\(returnPath), aspf=\(strictSPF ? "s" : "r")) passes aligned with \(domain)",
                                   fix: "publish a DKIM key that verifies for \(domain), or SPF for the pool's IPs on a returnPathDomain under \(organizational)")
        }
        let aligned = [dkimAligned ? "DKIM (adkim=\(strictDKIM ? "s" : "r"))" : nil, spfAligned ? "SPF (aspf=\(strictSPF ? "s" : "r"))" : nil].compactMap { $0 }
        return IdentityFinding(check: .dmarc, subject: domain, passed: true, message: "\(at) p=\(policy); aligned: \(aligned.joined(separator: ", "))", fix: nil)
    }

    func fcrdns(_ ip: String) async -> IdentityFinding {
        let helo = DNSMessage.normalized(configuration.delivery.heloName)
        guard let bytes = IPAddressBytes.parse(ip) else {
            return IdentityFinding(check: .fcrdns, subject: ip, passed: false, message: "not an IP address", fix: nil)
        }
        let reverse = IPAddressBytes.reverseName(bytes)
        let fix = "PTR \(reverse) \(helo). and \(ip.contains(":") ? "AAAA" : "A") \(helo) \(ip)"
        let answer = await dns.lookup(reverse, .ptr)
        if case .failure(let why) = answer {
            return IdentityFinding(check: .fcrdns, subject: ip, passed: false, message: "PTR lookup failed: \(why)", fix: nil)
        }
        let names = answer.names
        guard !names.isEmpty else { return IdentityFinding(check: .fcrdns, subject: ip, passed: false, message: "no PTR record for \(ip)", fix: fix) }
        var confirmed: [String] = []
        for name in names.prefix(10) {
            let forward = await dns.lookup(name, bytes.count == 4 ? .a : .aaaa)
            if forward.addresses.compactMap(IPAddressBytes.parse).contains(bytes) { confirmed.append(name) }
        }
        guard !confirmed.isEmpty else {
            return IdentityFinding(check: .fcrdns, subject: ip, passed: false,
                                   message: "the PTR of \(ip) (\(names.joined(separator: ", "))) does not resolve back to \(ip)", fix: fix)
        }
        guard confirmed.contains(helo) else {
            return IdentityFinding(check: .fcrdns, subject: ip, passed: false,
                                   message: "\(ip) resolves to \(confirmed.joined(separator: ", ")) and back, but the HELO name is \(helo)",
                                   fix: "set delivery.heloName to \(confirmed[0]), or \(fix)")
        }
        return IdentityFinding(check: .fcrdns, subject: ip, passed: true, message: "\(ip) ↔ \(helo), the HELO name", fix: nil)
    }

    /// `k=v; k=v` tags (DKIM, DMARC), keys lower-cased.
    static func tags(_ text: String) -> [String: String] {
        var tags: [String: String] = [:]
        for part in text.split(separator: ";") {
            guard let equals = part.firstIndex(of: "=") else { continue }
            let key = part[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            tags[key] = part[part.index(after: equals)...].trimmingCharacters(in: .whitespaces)
        }
        return tags
    }

    /// The last two labels (see the type's note).
    static func organizationalDomain(_ domain: String) -> String {
        domain.split(separator: ".").suffix(2).joined(separator: ".")
    }
}

extension SendEngine {
    /// Checks every identity and pool IP through DNS (`IdentityChecker`).
    public func checkIdentities() async -> [IdentityFinding] {
        await IdentityChecker(configuration: configuration, secrets: secrets, dns: mx.client).run()
    }

    /// With `delivery.requireAuthentication`, refuses to deliver while a check fails.
    func requireAuthentication() async throws(KilnError) {
        guard configuration.delivery.requireAuthentication == true else { return }
        let failing = await checkIdentities().filter { !$0.passed }
        guard !failing.isEmpty else { return }
        let lines = failing.map { "  \($0.check.rawValue) \($0.subject): \($0.message)" }.joined(separator: "\n")
        throw KilnError(.invalidConfiguration, "delivery.requireAuthentication is set and \(failing.count) check(s) fail (kiln identity check):\n\(lines)",
                        location: "delivery.requireAuthentication")
    }
}
