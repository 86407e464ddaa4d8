/// How much a mailbox provider takes from one IP, and how it wants to be connected to.
public struct ProviderProfile: Hashable, Sendable {
    public var provider: MailboxProvider
    /// Messages per hour a cold IP can safely send to this provider.
    public var coldHourly: Double
    /// Messages per hour a fully warm IP can send to this provider.
    public var warmHourly: Double
    /// Concurrent connections per (IP, provider).
    public var maxConnections: Int
    /// Messages sent on one connection before it is closed and a new one opened.
    public var messagesPerConnection: Int
    /// How long an (IP, provider) pair rests after a throttle reply.
    public var throttleBackoff: Duration

    public init(provider: MailboxProvider, coldHourly: Double, warmHourly: Double, maxConnections: Int, messagesPerConnection: Int, throttleBackoff: Duration) {
        self.provider = provider
        self.coldHourly = coldHourly
        self.warmHourly = warmHourly
        self.maxConnections = maxConnections
        self.messagesPerConnection = messagesPerConnection
        self.throttleBackoff = throttleBackoff
    }

    /// Built-in profiles. Connection shaping follows the public defaults of large senders'
    /// shaping tables (KumoMTA's `shaping.toml`, SparkPost/Momentum): 50 messages per
    /// connection at Gmail and Microsoft, 20 at Yahoo, 5 at Apple (which also allows few
    /// connections). Hourly volumes follow the common day-1 warm-up plans (SES and
    /// SendGrid start a new IP at 50-200 messages a day per provider and reach tens of
    /// thousands an hour when warm); `coldHourly` is the day-1 volume over an hour.
    ///
    /// | provider | coldHourly | warmHourly | connections | per connection |
    /// |---|---|---|---|---|
    /// | gmail | 20 | 50,000 | 5 | 50 |
    /// | microsoft | 20 | 40,000 | 5 | 50 |
    /// | yahoo | 15 | 30,000 | 5 | 20 |
    /// | apple | 10 | 10,000 | 2 | 5 |
    /// | other | 30 | 20,000 | 5 | 50 |
    public static let builtIn: [MailboxProvider: ProviderProfile] = [
        .gmail: ProviderProfile(provider: .gmail, coldHourly: 20, warmHourly: 50_000, maxConnections: 5, messagesPerConnection: 50, throttleBackoff: .seconds(900)),
        .microsoft: ProviderProfile(provider: .microsoft, coldHourly: 20, warmHourly: 40_000, maxConnections: 5, messagesPerConnection: 50, throttleBackoff: .seconds(900)),
        .yahoo: ProviderProfile(provider: .yahoo, coldHourly: 15, warmHourly: 30_000, maxConnections: 5, messagesPerConnection: 20, throttleBackoff: .seconds(1800)),
        .apple: ProviderProfile(provider: .apple, coldHourly: 10, warmHourly: 10_000, maxConnections: 2, messagesPerConnection: 5, throttleBackoff: .seconds(1800)),
    ]

    /// The profile for providers without one of their own.
    public static func fallback(_ provider: MailboxProvider) -> ProviderProfile {
        ProviderProfile(provider: provider, coldHourly: 30, warmHourly: 20_000, maxConnections: 5, messagesPerConnection: 50, throttleBackoff: .seconds(600))
    }

    /// The built-in profile of `provider` with the configuration's overrides applied
    /// (`providers.<id>` first, then `providers.other` for unlisted providers).
    public static func resolve(_ provider: MailboxProvider, overrides: [String: Override]?) -> ProviderProfile {
        var profile = builtIn[provider] ?? fallback(provider)
        guard let o = overrides?[provider.id] ?? (builtIn[provider] == nil ? overrides?["other"] : nil) else { return profile }
        if let v = o.coldHourly { profile.coldHourly = v }
        if let v = o.warmHourly { profile.warmHourly = v }
        if let v = o.maxConnections { profile.maxConnections = v }
        if let v = o.messagesPerConnection { profile.messagesPerConnection = v }
        if let v = o.throttleBackoffSeconds { profile.throttleBackoff = .saturatingSeconds(v) }
        return profile
    }
}

extension ProviderProfile {
    /// Overrides of a provider's profile (`providers.<id>` in the configuration); absent
    /// fields keep the built-in value.
    public struct Override: Codable, Sendable, Equatable {
        public var coldHourly: Double?
        public var warmHourly: Double?
        public var maxConnections: Int?
        public var messagesPerConnection: Int?
        public var throttleBackoffSeconds: Double?
        public init(coldHourly: Double? = nil, warmHourly: Double? = nil, maxConnections: Int? = nil, messagesPerConnection: Int? = nil, throttleBackoffSeconds: Double? = nil) {
            self.coldHourly = coldHourly
            self.warmHourly = warmHourly
            self.maxConnections = maxConnections
            self.messagesPerConnection = messagesPerConnection
            self.throttleBackoffSeconds = throttleBackoffSeconds
        }
    }
}
