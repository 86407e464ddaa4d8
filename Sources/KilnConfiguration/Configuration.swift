import KilnCore

/// Kiln's configuration, decoded from JSON (`config.example.json` shows every section).
/// Secrets are never written here: they are named by environment variable or file.
/// Check a decoded configuration with `validate()`.
public struct Configuration: Codable, Sendable, Equatable {
    public var store: Store
    /// The fixed last field of every Feedback-ID (`a:b:c:SenderId`).
    public var senderId: String
    public var identities: [Identity]
    public var pools: [Pool]
    public var sharedPool: SharedPool?
    public var delivery: Delivery
    /// Overrides of the built-in provider profiles, by provider id (`gmail`, `yahoo`, ...).
    public var providers: [String: ProviderProfileOverride]?
    public var configurationSets: [ConfigurationSet]
    public var defaultConfigurationSet: String?
    /// Trust and limits for what comes back (`Configuration+Feedback.swift`); absent: defaults.
    public var feedback: Feedback?
    /// The nodes sharing a PostgreSQL store, each with the pool IPs it owns (absent: one
    /// machine sends from every IP).
    public var nodes: [Node]?
    /// Operator reply rules, checked before the built-in table (`Configuration+ReplyRules.swift`).
    public var replyRules: [ReplyRuleEntry]?
    /// The tenants besides `default` (`Configuration+Submission.swift`).
    public var tenants: [Tenant]?
    /// The SMTP submission listener and the HTTP API's limits.
    public var submission: Submission?

    public init(
        store: Store, senderId: String, identities: [Identity], pools: [Pool], sharedPool: SharedPool? = nil,
        delivery: Delivery, providers: [String: ProviderProfileOverride]? = nil,
        configurationSets: [ConfigurationSet], defaultConfigurationSet: String? = nil, feedback: Feedback? = nil,
        replyRules: [ReplyRuleEntry]? = nil, nodes: [Node]? = nil
    ) {
        self.nodes = nodes
        self.store = store
        self.senderId = senderId
        self.identities = identities
        self.pools = pools
        self.sharedPool = sharedPool
        self.delivery = delivery
        self.providers = providers
        self.configurationSets = configurationSets
        self.defaultConfigurationSet = defaultConfigurationSet
        self.feedback = feedback
        self.replyRules = replyRules
    }

    /// Where the queue is: a SQLite file (`path`: one machine) or a PostgreSQL database
    /// (`url`: several nodes share it). Exactly one of the two.
    public struct Store: Codable, Sendable, Equatable {
        /// The SQLite file; relative paths are relative to the configuration file.
        public var path: String?
        /// `postgres://user@host:port/database`, without a password.
        public var url: String?
        /// The environment variable, or the file, holding the database password.
        public var passwordEnv: String?
        public var passwordFile: String?
        /// `disable`, `prefer` (default), `require` or `verify` (the certificate checked
        /// against `caFile`, else the system's trust store).
        public var tls: String?
        public var caFile: String?
        /// How long a lease lasts without its owner's heartbeat (default 60 s): after that,
        /// another node takes the message over.
        public var leaseSeconds: Int?
        /// Days a final message (delivered, bounced, expired, suppressed, failed), its
        /// content and events are kept (default 30); older ones are purged while running.
        public var retentionDays: Int?
        public init(path: String? = nil, url: String? = nil, passwordEnv: String? = nil, passwordFile: String? = nil, tls: String? = nil,
                    caFile: String? = nil, leaseSeconds: Int? = nil, retentionDays: Int? = nil) {
            self.retentionDays = retentionDays
            self.path = path
            self.url = url
            self.passwordEnv = passwordEnv
            self.passwordFile = passwordFile
            self.tls = tls
            self.caFile = caFile
            self.leaseSeconds = leaseSeconds
        }
    }

    /// A delivering node of a cluster and the pool IPs it sends from.
    public struct Node: Codable, Sendable, Equatable {
        public var name: String
        public var ips: [String]
        public init(name: String, ips: [String]) {
            self.name = name
            self.ips = ips
        }
    }

    /// A sending domain the operator controls.
    public struct Identity: Codable, Sendable, Equatable {
        public var domain: String
        /// The envelope sender's domain (a bounce subdomain of `domain`): `MAIL FROM` is
        /// `b+<message id>@returnPathDomain`.
        public var returnPathDomain: String?
        /// When set, only these From addresses may send for this identity.
        public var allowedFromAddresses: [String]?
        public var dkim: [DKIMKey]?
        /// The tenant that owns this identity (default `default`).
        public var owner: String?
        /// Delegate tenants that may send from this identity, under conditions.
        public var authorizations: [Authorization]?
        public init(domain: String, returnPathDomain: String? = nil, allowedFromAddresses: [String]? = nil, dkim: [DKIMKey]? = nil,
                    owner: String? = nil, authorizations: [Authorization]? = nil) {
            self.owner = owner
            self.authorizations = authorizations
            self.domain = domain
            self.returnPathDomain = returnPathDomain
            self.allowedFromAddresses = allowedFromAddresses
            self.dkim = dkim
        }
    }

    public struct DKIMKey: Codable, Sendable, Equatable {
        public var selector: String
        /// `rsa-sha256` or `ed25519-sha256`.
        public var algorithm: String
        /// A PEM file (PKCS#1 or PKCS#8); relative to the configuration file.
        public var privateKeyFile: String
        /// Accept a key file that group or others can read (refused by default).
        public var allowInsecureKeyFile: Bool?
        public init(selector: String, algorithm: String, privateKeyFile: String, allowInsecureKeyFile: Bool? = nil) {
            self.selector = selector
            self.algorithm = algorithm
            self.privateKeyFile = privateKeyFile
            self.allowInsecureKeyFile = allowInsecureKeyFile
        }
    }

    public typealias Scaling = Router.Scaling
    public typealias Spillover = Router.Spillover

    /// A named group of dedicated source addresses (`Router.Pool`).
    public typealias Pool = Router.Pool

    /// A relay shared with others (an ESP's SMTP endpoint), for spill-over.
    public struct SharedPool: Codable, Sendable, Equatable {
        /// `smtp://host:port` (STARTTLS when offered) or `smtps://host:port`.
        public var url: String
        public var usernameEnv: String?
        public var passwordEnv: String?
        public var passwordFile: String?
        /// Messages per day the relay accepts (no limit when absent).
        public var dailyLimit: Int?
        public init(url: String, usernameEnv: String? = nil, passwordEnv: String? = nil, passwordFile: String? = nil, dailyLimit: Int? = nil) {
            self.url = url
            self.usernameEnv = usernameEnv
            self.passwordEnv = passwordEnv
            self.passwordFile = passwordFile
            self.dailyLimit = dailyLimit
        }
    }

    public enum DeliveryMode: String, Codable, Sendable {
        /// Look up each domain's MX (routes still override per provider).
        case mx
        /// Only `routes`: every provider must have a route or a `*` route.
        case routes
    }

    public typealias TLSPolicy = KilnCore.TLSPolicy

    /// Whether a receiver's TLS certificate is checked.
    public enum TLSVerification: String, Codable, Sendable {
        /// Encrypt without checking the certificate (MX delivery without DANE or MTA-STS,
        /// as MTAs do; the default).
        case none
        /// Check the certificate chain (against `delivery.caFile`, else the system store)
        /// and that it names the host: a bad one passes the host over.
        case verify
    }

    public struct Delivery: Codable, Sendable, Equatable {
        public var mode: DeliveryMode
        /// Fixed destinations by provider id, or `*` for all others: `smtp://host:port`, or
        /// a list of such URLs tried in order within one attempt (like MX hosts).
        public var routes: [String: RouteList]?
        /// The name Kiln gives in EHLO.
        public var heloName: String
        /// A message not delivered within this age expires (default 72 hours).
        public var maxMessageAgeHours: Double?
        /// Seconds to wait for a connection (default 30).
        public var connectTimeoutSeconds: Double?
        /// Seconds one transfer may take in all (default 300).
        public var transferTimeoutSeconds: Double?
        /// Transfers in flight at once across all destinations (default 256).
        public var maxInFlight: Int?
        /// Concurrent connections per destination and source IP when the provider has no
        /// profile (default 10).
        public var maxConnectionsPerDestination: Int?
        public var tls: TLSPolicy?
        /// Name servers to ask (`"127.0.0.1:5353"`, `"[::1]:53"`, `"192.0.2.53"`) instead
        /// of those in /etc/resolv.conf: for MX, address and `kiln identity check` lookups.
        public var nameservers: [String]?
        /// The port MX hosts are reached on (default 25; a test network may use another).
        public var mxPort: Int?
        /// Certificate checks for STARTTLS and `smtps://` (default `none`).
        public var tlsVerify: TLSVerification?
        /// PEM file of the certificate authorities `tlsVerify: verify` trusts (default: the
        /// system store); relative to the configuration file.
        public var caFile: String?
        /// The largest message `submit` accepts, in bytes (default 26,214,400: 25 MB); a
        /// template rendered over it fails that recipient only.
        public var maxMessageBytes: Int?
        /// Refuse to deliver while `kiln identity check` finds a failing DKIM, SPF, DMARC
        /// or reverse-DNS record (default false: `kiln run` only warns).
        public var requireAuthentication: Bool?
        /// Whether `kiln run` checks the identities' DNS records at start (default true; it
        /// asks `nameservers`, else the system's resolver). `false` for a test network
        /// without DNS.
        public var identityCheckAtStart: Bool?
        /// Whether MX delivery may go to loopback, private, link-local, unspecified or
        /// multicast addresses taken from DNS (default false: such hosts are passed over).
        /// For test networks and internal relays.
        public var allowPrivateDestinations: Bool?
        /// Threads that run SMTP transfers (default 32; 1 to 256). Each waits on the network,
        /// not the CPU: libcurl holds a thread while a receiver answers the end of DATA,
        /// so n threads overlap up to n of those waits.
        public var transferThreads: Int?
        /// Seconds before the first retry after a temporary failure (default 60; each next
        /// wait doubles, up to an hour). Greylisting receivers take the retry after a few
        /// minutes at most; a short first retry suits test networks and demos.
        public var retryInitialSeconds: Double?
        public init(
            mode: DeliveryMode, routes: [String: RouteList]? = nil, heloName: String, maxMessageAgeHours: Double? = nil,
            connectTimeoutSeconds: Double? = nil, transferTimeoutSeconds: Double? = nil, maxInFlight: Int? = nil,
            maxConnectionsPerDestination: Int? = nil, tls: TLSPolicy? = nil, nameservers: [String]? = nil, mxPort: Int? = nil,
            tlsVerify: TLSVerification? = nil, caFile: String? = nil, maxMessageBytes: Int? = nil, requireAuthentication: Bool? = nil,
            transferThreads: Int? = nil, identityCheckAtStart: Bool? = nil, allowPrivateDestinations: Bool? = nil
        ) {
            self.retryInitialSeconds = nil
            self.allowPrivateDestinations = allowPrivateDestinations
            self.identityCheckAtStart = identityCheckAtStart
            self.transferThreads = transferThreads
            self.requireAuthentication = requireAuthentication
            self.maxMessageBytes = maxMessageBytes
            self.tlsVerify = tlsVerify
            self.caFile = caFile
            self.nameservers = nameservers
            self.mxPort = mxPort
            self.mode = mode
            self.routes = routes
            self.heloName = heloName
            self.maxMessageAgeHours = maxMessageAgeHours
            self.connectTimeoutSeconds = connectTimeoutSeconds
            self.transferTimeoutSeconds = transferTimeoutSeconds
            self.maxInFlight = maxInFlight
            self.maxConnectionsPerDestination = maxConnectionsPerDestination
            self.tls = tls
        }
    }

    public typealias ProviderProfileOverride = ProviderProfile.Override

    /// A named bundle of rules applied to a message.
    public struct ConfigurationSet: Codable, Sendable, Equatable {
        public var name: String
        public var pool: String
        /// Transactional mail is routed before bulk mail.
        public var transactional: Bool?
        /// The first three fields of `Feedback-ID` (the fourth is `senderId`).
        public var feedbackId: FeedbackIDFields?
        /// One-click unsubscribe (RFC 8058) for this set's mail.
        public var unsubscribe: Unsubscribe?
        /// Reputation guard lines (fractions, e.g. 0.05 for 5%); defaults in `ReputationThresholds`.
        public var bounceReviewRate: Double?
        public var bouncePauseRate: Double?
        public var complaintReviewRate: Double?
        public var complaintPauseRate: Double?
        /// Sends needed in the window before the guard acts (default 1,000).
        public var reputationMinimumVolume: Int?
        /// Where this set's events go, durably (`Configuration+EventDestinations.swift`).
        public var eventDestinations: [EventDestination]?
        public init(name: String, pool: String, transactional: Bool? = nil, feedbackId: FeedbackIDFields? = nil, unsubscribe: Unsubscribe? = nil,
                    bounceReviewRate: Double? = nil, bouncePauseRate: Double? = nil, complaintReviewRate: Double? = nil,
                    complaintPauseRate: Double? = nil, reputationMinimumVolume: Int? = nil, eventDestinations: [EventDestination]? = nil) {
            self.eventDestinations = eventDestinations
            self.name = name
            self.pool = pool
            self.transactional = transactional
            self.feedbackId = feedbackId
            self.unsubscribe = unsubscribe
            self.bounceReviewRate = bounceReviewRate
            self.bouncePauseRate = bouncePauseRate
            self.complaintReviewRate = complaintReviewRate
            self.complaintPauseRate = complaintPauseRate
            self.reputationMinimumVolume = reputationMinimumVolume
        }

        public var reputationThresholds: ReputationThresholds {
            var t = ReputationThresholds()
            if let v = bounceReviewRate { t.bounceReview = v }
            if let v = bouncePauseRate { t.bouncePause = v }
            if let v = complaintReviewRate { t.complaintReview = v }
            if let v = complaintPauseRate { t.complaintPause = v }
            if let v = reputationMinimumVolume { t.minimumVolume = v }
            return t
        }
    }

    /// `Feedback-ID: campaign:category:stream:senderId`. A message's campaign replaces
    /// `campaign`; `stream` defaults to the configuration set's name.
    public struct FeedbackIDFields: Codable, Sendable, Equatable {
        public var campaign: String?
        public var category: String?
        public var stream: String?
        public init(campaign: String? = nil, category: String? = nil, stream: String? = nil) {
            self.campaign = campaign
            self.category = category
            self.stream = stream
        }
    }

    /// Where unsubscribes go: an HTTPS endpoint (`url`, the token in `?t=`) and/or a
    /// mailto address; the token's HMAC key from `secretEnv` or `secretFile`.
    public struct Unsubscribe: Codable, Sendable, Equatable {
        public var url: String?
        public var mailto: String?
        public var secretEnv: String?
        public var secretFile: String?
        public init(url: String? = nil, mailto: String? = nil, secretEnv: String? = nil, secretFile: String? = nil) {
            self.url = url
            self.mailto = mailto
            self.secretEnv = secretEnv
            self.secretFile = secretFile
        }
    }
}

extension Configuration {
    /// The warm-up strategy of each pool.
    public var warmupStrategies: [String: WarmupStrategy] {
        Dictionary(pools.map { pool in
            let strategy: WarmupStrategy
            switch pool.warmup {
            case "ses45": strategy = .schedule(.ses45)
            case "stages30": strategy = .schedule(.stages30)
            case "custom": strategy = .schedule(WarmupSchedule(name: "custom", daily: pool.warmupSchedule ?? []))
            default: strategy = .adaptive(WarmupModel())
            }
            return (pool.name, strategy)
        }, uniquingKeysWith: { a, _ in a })
    }

    public var maxMessageAge: Duration { .saturatingSeconds((delivery.maxMessageAgeHours ?? 72) * 3600) }

    /// `delivery.maxMessageBytes`, or 25 MB.
    public var maxMessageBytes: Int { delivery.maxMessageBytes ?? 26_214_400 }

    public func configurationSet(named name: String?) -> ConfigurationSet? {
        let wanted = name ?? defaultConfigurationSet ?? configurationSets.first?.name
        return configurationSets.first { $0.name == wanted }
    }

    public func pool(named name: String) -> Pool? { pools.first { $0.name == name } }

    /// The identity whose domain is the From address's domain (or a parent of it), with
    /// its domains in A-label form (`Identity.withASCIIDomains`), as the address's is.
    public func identity(for address: EmailAddress) -> Identity? {
        let domains = identities.map(\.asciiDomain)
        let index = domains.firstIndex { address.domain == $0 } ?? domains.firstIndex { address.domain.hasSuffix("." + $0) }
        return index.map { identities[$0].withASCIIDomains }
    }

    /// The route for a provider: its own, else `*`.
    public func route(for provider: MailboxProvider) -> RouteList? {
        delivery.routes?[provider.id] ?? delivery.routes?["*"]
    }
}
