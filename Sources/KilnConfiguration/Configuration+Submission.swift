import KilnCore

/// The front door's configuration: tenants and their quotas, who may send from an
/// identity (its owner and the delegates it authorizes), and the SMTP submission
/// listener.
extension Configuration {
    /// The tenant every identity, credential and trusted network belongs to unless it
    /// names another.
    public static let defaultTenant = "default"

    /// A customer or team sending through Kiln, with its own reputation and quota.
    public struct Tenant: Codable, Sendable, Equatable {
        public var name: String
        public var quota: Quota?
        /// The reputation guard's pause lines for this tenant's own mail (defaults: 10%
        /// bounces, 0.5% complaints, judged from 1,000 sends).
        public var bouncePauseRate: Double?
        public var complaintPauseRate: Double?
        public var reputationMinimumVolume: Int?
        public init(name: String, quota: Quota? = nil, bouncePauseRate: Double? = nil, complaintPauseRate: Double? = nil,
                    reputationMinimumVolume: Int? = nil) {
            self.name = name
            self.quota = quota
            self.bouncePauseRate = bouncePauseRate
            self.complaintPauseRate = complaintPauseRate
            self.reputationMinimumVolume = reputationMinimumVolume
        }

        public var reputationThresholds: ReputationThresholds {
            var t = ReputationThresholds()
            if let v = bouncePauseRate { t.bouncePause = v; t.bounceReview = min(t.bounceReview, v) }
            if let v = complaintPauseRate { t.complaintPause = v; t.complaintReview = min(t.complaintReview, v) }
            if let v = reputationMinimumVolume { t.minimumVolume = v }
            return t
        }
    }

    /// How much a tenant may hand Kiln: recipients per second (a burst of one second's
    /// worth) and per rolling 24 hours. Over it, a submission is refused for now (SMTP
    /// `451 4.7.1`, HTTP 429 with `Retry-After`), never dropped.
    public struct Quota: Codable, Sendable, Equatable {
        public var maxPerSecond: Double?
        public var maxPer24Hours: Int?
        public init(maxPerSecond: Double? = nil, maxPer24Hours: Int? = nil) {
            self.maxPerSecond = maxPerSecond
            self.maxPer24Hours = maxPer24Hours
        }
    }

    /// A delegate tenant's right to send from an identity it does not own, narrowed to
    /// From addresses and configuration sets when they are given.
    public struct Authorization: Codable, Sendable, Equatable {
        public var tenant: String
        public var fromAddresses: [String]?
        public var configurationSets: [String]?
        public init(tenant: String, fromAddresses: [String]? = nil, configurationSets: [String]? = nil) {
            self.tenant = tenant
            self.fromAddresses = fromAddresses
            self.configurationSets = configurationSets
        }
    }

    /// How applications hand Kiln mail besides the library (`submission.smtp`; the HTTP
    /// API runs on `kiln run --listen`).
    public struct Submission: Codable, Sendable, Equatable {
        public var smtp: SMTPListener?
        /// Recipients per `POST /v1/messages` at most (default 1,000).
        public var maxRecipientsPerCall: Int?
        public init(smtp: SMTPListener? = nil, maxRecipientsPerCall: Int? = nil) {
            self.smtp = smtp
            self.maxRecipientsPerCall = maxRecipientsPerCall
        }
    }

    /// The SMTP submission listener (RFC 6409) that `kiln run` starts.
    public struct SMTPListener: Codable, Sendable, Equatable {
        /// `HOST:PORT` addresses to listen on.
        public var listen: [String]
        /// STARTTLS; without it, AUTH is never offered and only trusted networks relay.
        public var tls: TLSFiles?
        /// Networks whose clients relay without AUTH, each as a tenant.
        public var trustedNetworks: [TrustedNetwork]?
        /// Default 26,214,400 bytes (25 MiB).
        public var maxMessageBytes: Int?
        /// Recipients per message at most (default 1,000).
        public var maxRecipients: Int?
        /// Open sessions at most (default 1,000).
        public var maxConnections: Int?
        /// Seconds a session may stay silent (default 300, RFC 5321 §4.5.3.2).
        public var idleTimeoutSeconds: Int?
        /// The name in the greeting (default: the host name).
        public var hostname: String?
        public init(listen: [String], tls: TLSFiles? = nil, trustedNetworks: [TrustedNetwork]? = nil, maxMessageBytes: Int? = nil,
                    maxRecipients: Int? = nil, maxConnections: Int? = nil, idleTimeoutSeconds: Int? = nil, hostname: String? = nil) {
            self.listen = listen
            self.tls = tls
            self.trustedNetworks = trustedNetworks
            self.maxMessageBytes = maxMessageBytes
            self.maxRecipients = maxRecipients
            self.maxConnections = maxConnections
            self.idleTimeoutSeconds = idleTimeoutSeconds
            self.hostname = hostname
        }
    }

    /// A certificate chain and its private key, PEM files relative to the configuration file.
    public struct TLSFiles: Codable, Sendable, Equatable {
        public var certificateFile: String
        public var privateKeyFile: String
        public init(certificateFile: String, privateKeyFile: String) {
            self.certificateFile = certificateFile
            self.privateKeyFile = privateKeyFile
        }
    }

    public struct TrustedNetwork: Codable, Sendable, Equatable {
        /// `10.0.0.0/8`, `127.0.0.1/32`, `::1/128` (a bare address is one host).
        public var network: String
        public var tenant: String?
        public init(network: String, tenant: String? = nil) {
            self.network = network
            self.tenant = tenant
        }
    }

    /// Every tenant's name: `default` and the configured ones.
    public var tenantNames: Set<String> {
        Set((tenants ?? []).map(\.name)).union([Self.defaultTenant])
    }

    /// The configured tenant (nil for `default` when it is not configured: no quota).
    public func tenant(named name: String) -> Tenant? {
        (tenants ?? []).first { $0.name == name }
    }

    func submissionProblems() -> [ConfigurationProblem] {
        var problems: [ConfigurationProblem] = []
        func check(_ condition: Bool, _ path: String, _ message: String) {
            if !condition { problems.append(ConfigurationProblem(path: path, message: message)) }
        }
        let names = tenantNames
        func checkTenant(_ name: String, _ path: String) {
            check(names.contains(name), path, "no tenant named '\(name.escapingControlCharacters)' (tenants: \(names.sorted().joined(separator: ", ")))")
        }
        for (i, tenant) in (tenants ?? []).enumerated() {
            let path = "tenants[\(i)]"
            check(Self.isTenantName(tenant.name), "\(path).name", "must be 1 to 64 letters, digits, '-', '_' or '.'")
            if let perSecond = tenant.quota?.maxPerSecond { check(perSecond > 0 && perSecond.isFinite, "\(path).quota.maxPerSecond", "must be more than 0") }
            if let perDay = tenant.quota?.maxPer24Hours { check(perDay > 0, "\(path).quota.maxPer24Hours", "must be more than 0") }
            for (key, value) in [("bouncePauseRate", tenant.bouncePauseRate), ("complaintPauseRate", tenant.complaintPauseRate)] {
                if let value { check(value > 0 && value <= 1, "\(path).\(key)", "must be a fraction in (0, 1], e.g. 0.1 for 10%") }
            }
            if let volume = tenant.reputationMinimumVolume { check(volume >= 1, "\(path).reputationMinimumVolume", "must be at least 1") }
        }
        check(Set((tenants ?? []).map(\.name)).count == (tenants ?? []).count, "tenants", "names must be distinct")
        let setNames = Set(configurationSets.map(\.name))
        for (i, identity) in identities.enumerated() {
            if let owner = identity.owner { checkTenant(owner, "identities[\(i)].owner") }
            for (j, grant) in (identity.authorizations ?? []).enumerated() {
                let path = "identities[\(i)].authorizations[\(j)]"
                checkTenant(grant.tenant, "\(path).tenant")
                for (k, address) in (grant.fromAddresses ?? []).enumerated() {
                    let inDomain = (try? EmailAddress(address)).map { $0.domain == identity.asciiDomain || $0.domain.hasSuffix("." + identity.asciiDomain) }
                    check(inDomain == true, "\(path).fromAddresses[\(k)]", "'\(address.escapingControlCharacters)' is not an address in \(identity.domain)")
                }
                for (k, set) in (grant.configurationSets ?? []).enumerated() {
                    check(setNames.contains(set), "\(path).configurationSets[\(k)]", "no configuration set named '\(set.escapingControlCharacters)'")
                }
            }
        }
        if let smtp = submission?.smtp {
            check(!smtp.listen.isEmpty, "submission.smtp.listen", "at least one HOST:PORT is required")
            for (i, address) in smtp.listen.enumerated() {
                check(Self.listenAddress(address) != nil, "submission.smtp.listen[\(i)]", "'\(address.escapingControlCharacters)' is not HOST:PORT")
            }
            for (i, trusted) in (smtp.trustedNetworks ?? []).enumerated() {
                check(Self.network(trusted.network) != nil, "submission.smtp.trustedNetworks[\(i)].network",
                      "'\(trusted.network.escapingControlCharacters)' is not an address or ADDRESS/PREFIX")
                if let tenant = trusted.tenant { checkTenant(tenant, "submission.smtp.trustedNetworks[\(i)].tenant") }
            }
            if let bytes = smtp.maxMessageBytes { check(bytes >= 1_024, "submission.smtp.maxMessageBytes", "must be at least 1024") }
            if let count = smtp.maxRecipients { check(count >= 1, "submission.smtp.maxRecipients", "must be at least 1") }
            if let count = smtp.maxConnections { check(count >= 1, "submission.smtp.maxConnections", "must be at least 1") }
            if let seconds = smtp.idleTimeoutSeconds { check(seconds >= 1, "submission.smtp.idleTimeoutSeconds", "must be at least 1") }
            if let tls = smtp.tls {
                check(!tls.certificateFile.isEmpty, "submission.smtp.tls.certificateFile", "must not be empty")
                check(!tls.privateKeyFile.isEmpty, "submission.smtp.tls.privateKeyFile", "must not be empty")
            }
        }
        if let count = submission?.maxRecipientsPerCall { check((1...10_000).contains(count), "submission.maxRecipientsPerCall", "must be between 1 and 10000") }
        return problems
    }

    /// A tenant's name: 1 to 64 of letters, digits, `-`, `_`, `.`.
    public static func isTenantName(_ name: String) -> Bool {
        (1...64).contains(name.count) && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }
    }

    /// `HOST:PORT` (an IPv6 host in brackets or bare).
    public static func listenAddress(_ text: String) -> (host: String, port: Int)? {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (1...65_535).contains(port) else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return host.isEmpty ? nil : (host, port)
    }

    /// An address or `ADDRESS/PREFIX`: the network's bytes and prefix length.
    public static func network(_ text: String) -> (bytes: [UInt8], prefixLength: Int)? {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let bytes = IPAddressBytes.parse(String(parts[0])) else { return nil }
        guard parts.count == 2 else { return (bytes, bytes.count * 8) }
        guard let prefix = Int(parts[1]), (0...bytes.count * 8).contains(prefix) else { return nil }
        return (bytes, prefix)
    }
}
