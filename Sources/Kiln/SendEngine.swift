import Foundation
import KilnConfiguration
import KilnCore
import KilnDNS
import KilnMessage
import KilnSMTP
import KilnPostgres
import KilnStore
import Logging
import ServiceLifecycle
import Synchronization

/// The embedded sending engine. Open it on a configuration, `submit` messages (they are
/// durably stored before `submit` returns), and `run()` it (or add it to a
/// `ServiceGroup`) to deliver them in the background.
///
/// ```swift
/// let engine = try SendEngine(configuration: config, logger: logger)
/// let ids = try await engine.submit(OutgoingMessage(draft))
/// try await engine.run()   // until cancelled or gracefully shut down
/// ```
public final class SendEngine: Service, Sendable {
    public let configuration: Configuration
    /// The durable store: the configured SQLite file unless one was passed in.
    public let store: any MessageStore
    let logger: Logger
    let secrets: SecretSource
    /// The one clock of timestamps, intervals and waits (`SystemClock`, or a test's).
    public let clock: any EngineClock
    let broadcaster = EventBroadcaster()
    /// MX lookups through `delivery.nameservers` (else /etc/resolv.conf), on the engine's clock.
    let mx: MXResolver
    let stopping = Mutex(false)
    /// Ends the delivery loop's idle wait early: a submission, a stop, recorded results.
    let wakeup: Wakeup
    /// Set by a pause or a resume through this engine: the delivery run reads the pauses
    /// again at once instead of at its next check.
    let pausesChanged = Atomic(false)
    let messageIDs = Mutex<SystemRandomNumberGenerator>(SystemRandomNumberGenerator())
    /// Whose leases this engine takes: the node name (when it is one of the configured
    /// nodes), the host, the process and a random part.
    public let nodeID: String
    /// The configured node this engine delivers as (nil: the one machine, every IP).
    public let node: String?
    /// What a delivery run sends with: the configuration, restricted to the node's IPs.
    let sendingConfiguration: Configuration
    /// The secrets read for each use, kept (`loadedSecrets(for:)`).
    let secretsLoaded = Mutex<[SecretUse: LoadedSecrets]>([:])
    /// How often a delivering engine checks the reputation guard.
    let reputationCheckInterval: Duration
    /// Makes the transport of one delivery run.
    let transportFactory: TransportFactory
    /// The engine's metrics (swift-metrics: the embedder's backend).
    public let metrics: EngineMetrics
    /// The delivery run in progress, for the metrics' gauges.
    let liveSession = Mutex<DeliverySession?>(nil)
    /// Whether a delivery run is going and the whole store is not paused (`readiness()`).
    let delivering = Mutex(false)
    let pausedAll = Mutex(false)
    /// Why the store failed the last time the gauges were refreshed (nil: it answered):
    /// `/readyz` says so.
    let storeFailure = Mutex<String?>(nil)
    /// Why the delivery run waits for the store (nil: its last write succeeded): a
    /// temporary failure such as a full disk (`waitingOutStoreOutages`).
    let storeWriteFailure = Mutex<String?>(nil)
    /// How often `run()` purges old messages and refreshes the gauges.
    let housekeeping: Housekeeping

    /// Makes the transport of one delivery run from the configured SMTP options.
    public typealias TransportFactory = @Sendable (SMTPTransport.Options, Logger) -> any MailTransport

    /// The default transport: SMTP through libcurl.
    public static let libcurlTransport: TransportFactory = { options, logger in SMTPTransport(options: options, logger: logger) }

    /// - Parameters:
    ///   - configuration: a validated configuration.
    ///   - baseDirectory: what relative paths in the configuration are relative to.
    ///   - clock: the clock of timestamps, intervals and waits (tests pass a
    ///     `KilnTesting.ManualClock`).
    ///   - transport: makes the transport of each delivery run; libcurl SMTP by default
    ///     (tests pass `KilnTesting.FakeTransport`).
    ///   - store: the store to use instead of the configured one.
    ///   - node: the configured node to deliver as (sending from its IPs only).
    public convenience init(
        configuration: Configuration, baseDirectory: String = FileManager.default.currentDirectoryPath,
        secrets: SecretSource? = nil, logger: Logger, clock: any EngineClock = SystemClock(),
        reputationCheckInterval: Duration = .seconds(10),
        transport: @escaping TransportFactory = SendEngine.libcurlTransport,
        store: (any MessageStore)? = nil, node: String? = nil, metrics: EngineMetrics? = nil, housekeeping: Housekeeping = Housekeeping()
    ) throws(KilnError) {
        // Built in code: validated here, as `Configuration.load` validates a file's.
        let problems = configuration.validate()
        if !problems.isEmpty { throw Configuration.invalid(problems, source: "configuration") }
        try self.init(validated: configuration, baseDirectory: baseDirectory, secrets: secrets, logger: logger, clock: clock,
                      reputationCheckInterval: reputationCheckInterval, transport: transport, store: store, node: node, metrics: metrics,
                      housekeeping: housekeeping)
    }

    /// An engine on a configuration already validated (by `Configuration.load` or the
    /// public initializer): each configuration is validated once.
    private init(
        validated configuration: Configuration, baseDirectory: String, secrets: SecretSource?, logger: Logger, clock: any EngineClock,
        reputationCheckInterval: Duration, transport: @escaping TransportFactory, store: (any MessageStore)?, node: String?,
        metrics: EngineMetrics?, housekeeping: Housekeeping
    ) throws(KilnError) {
        self.metrics = metrics ?? EngineMetrics()
        self.housekeeping = housekeeping
        self.reputationCheckInterval = reputationCheckInterval
        self.transportFactory = transport
        if let node, configuration.node(named: node) == nil {
            let known = (configuration.nodes ?? []).map(\.name).joined(separator: ", ")
            throw KilnError(.invalidInput, "no node named '\(node)' in the configuration\(known.isEmpty ? " (it names no nodes)" : " (configured: \(known))")", location: "--node")
        }
        self.node = node
        let run = "\(ProcessInfo.processInfo.hostName)-\(getpid())-\(String(UInt32.random(in: 0...UInt32.max), radix: 36))"
        self.nodeID = node.map { "\($0)/\(run)" } ?? run
        self.configuration = configuration
        self.sendingConfiguration = node.map { configuration.restricted(toNode: $0) } ?? configuration
        self.logger = logger
        self.clock = clock
        self.wakeup = Wakeup(clock: clock)
        self.mx = MXResolver(client: DNSClient(servers: (configuration.delivery.nameservers ?? []).compactMap(DNSServerAddress.init)), now: { clock.now() })
        let secrets = secrets ?? SecretSource(baseDirectory: baseDirectory)
        self.secrets = secrets
        if let store {
            self.store = store
        } else {
            self.store = try Self.openStore(configuration.store, secrets: secrets, baseDirectory: baseDirectory)
        }
    }

    /// Opens the configured store: the SQLite file, or the PostgreSQL database (its
    /// password read from the environment or its file now).
    static func openStore(_ settings: Configuration.Store, secrets: SecretSource, baseDirectory: String) throws(KilnError) -> any MessageStore {
        if let url = settings.url {
            var password: String?
            if let name = settings.passwordEnv { password = try secrets.fromEnvironment(name, for: "store.passwordEnv", minimumLength: 1) }
            if let file = settings.passwordFile { password = try secrets.fromFile(file, for: "store.passwordFile", minimumLength: 1) }
            let tls = settings.tls.flatMap(PostgresSettings.TLSMode.init(rawValue:)) ?? .prefer
            return PostgresStore(settings: try PostgresSettings(url: url, password: password, tls: tls, caFile: settings.caFile.map(secrets.resolve)))
        }
        let configured = settings.path ?? "kiln.sqlite"
        let path = configured.hasPrefix("/") ? configured : (baseDirectory as NSString).appendingPathComponent(configured)
        return try SQLiteStore(path: path)
    }

    /// Opens an engine on a configuration file.
    public convenience init(configurationFile path: String, logger: Logger, node: String? = nil, housekeeping: Housekeeping = Housekeeping()) throws(KilnError) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw KilnError(.invalidConfiguration, "cannot read the configuration file", location: path)
        }
        let configuration = try Configuration.load(json: data, source: path)
        let directory = (path as NSString).deletingLastPathComponent
        try self.init(validated: configuration, baseDirectory: directory.isEmpty ? "." : directory, secrets: nil, logger: logger,
                      clock: SystemClock(), reputationCheckInterval: .seconds(10),
                      transport: Self.libcurlTransport, store: nil, node: node,
                      metrics: nil, housekeeping: housekeeping)
    }

    /// The machine's wall time (`SystemClock.now`), for commands that only stamp a record.
    @Sendable public static func wallClock() -> Timestamp { SystemClock.wallTime() }

    /// Every event from now on (accepted, send, delivery, bounce, ...).
    public func events() -> AsyncStream<DeliveryEvent> { broadcaster.subscribe() }

    // MARK: Submitting

    /// Validates and durably stores a message; returns one id per recipient once it is
    /// on disk. Throws (and stores nothing) for a From outside the configured identities,
    /// an unknown configuration set, a header with a line break, no recipients, or a
    /// secret or key that a delivery run needs and cannot read (`checkReadyToSend`).
    public func submit(_ message: OutgoingMessage) async throws(KilnError) -> [MessageID] {
        try await submit(batch: [message]).first ?? []
    }

    /// Stores several messages in one transaction.
    public func submit(batch messages: [OutgoingMessage]) async throws(KilnError) -> [[MessageID]] {
        try checkReadyToSend()
        let time = now()
        if configuration.delivery.mode == .mx {
            // The providers of domains the table does not know come from their MX hosts:
            // looked up at once, not one after another behind a silent name server.
            let unknown = Set(messages.flatMap { $0.recipients.map(\.domain) }.filter { MailboxProvider.classify(domain: $0) == nil })
            if unknown.count > 1 { await mx.prefetch(unknown) }
        }
        var submissions: [Submission] = []
        submissions.reserveCapacity(messages.count)
        for (index, message) in messages.enumerated() {
            var submission = try await prepare(message, index: messages.count > 1 ? index : nil, now: time)
            // Suppressed addresses are stored as suppressed, never queued.
            let suppressed = try await store.suppressions(of: submission.recipients.map(\.address), scope: submission.content.configurationSet)
            if !suppressed.isEmpty {
                for i in submission.recipients.indices { submission.recipients[i].suppressed = suppressed[submission.recipients[i].address] }
            }
            submissions.append(submission)
        }
        let ids = try await store.enqueue(submissions, now: time)
        var events: [DeliveryEvent] = []
        var rejections: [DeliveryEvent] = []
        for (submission, messageIDs) in zip(submissions, ids) {
            for (recipient, id) in zip(submission.recipients, messageIDs) {
                if let reason = recipient.suppressed {
                    rejections.append(DeliveryEvent(kind: .reject, time: time, messageID: id, recipient: recipient.address, provider: recipient.provider,
                                                    detail: "suppressed (\(reason.rawValue))"))
                } else {
                    events.append(DeliveryEvent(kind: .accepted, time: time, messageID: id, recipient: recipient.address, provider: recipient.provider))
                }
            }
        }
        if !rejections.isEmpty {
            try await store.append(events: rejections)
            events += rejections
        }
        broadcaster.publish(events)
        wakeup.poke()
        return ids
    }

    func prepare(_ message: OutgoingMessage, index: Int?, now time: Timestamp) async throws(KilnError) -> Submission {
        let place = index.map { "messages[\($0)]" }
        guard !message.recipients.isEmpty else {
            throw KilnError(.invalidMessage, "a message needs at least one recipient", location: place)
        }
        guard let identity = configuration.identity(for: message.from) else {
            throw KilnError(.notAllowedSender, "\(message.from) is not in a configured identity", location: place ?? "from")
        }
        if let allowed = identity.allowedFromAddresses, !allowed.isEmpty,
           !allowed.contains(where: { (try? EmailAddress($0)) == message.from }) {
            throw KilnError(.notAllowedSender, "\(message.from) is not an allowed From address of \(identity.domain)", location: place ?? "from")
        }
        guard let configurationSet = configuration.configurationSet(named: message.configurationSet) else {
            throw KilnError(.invalidMessage, "no configuration set named '\(message.configurationSet ?? "")'", location: place ?? "configurationSet")
        }
        // Refused here, not at send time: a Feedback-ID that is not four distinct fields.
        _ = try MessageFinisher.feedbackID(configurationSet, name: configurationSet.name, campaign: message.campaign, senderId: configuration.senderId)
        let data: [UInt8]
        switch message.body {
        case .draft(let draft):
            let unique = makeUniqueToken()
            data = try MessageBuilder.compose(draft, date: time, messageID: "\(unique)@\(identity.domain)", boundarySeed: unique)
        case .raw(let bytes):
            data = try RawMessage.checked(bytes, from: message.from)
        case .template(let template, let variables):
            _ = try template.compile()
            guard variables.count == message.recipients.count else {
                throw KilnError(.invalidMessage, "one set of variables per recipient is needed", location: place ?? "variables")
            }
            data = try Self.encoded(template, location: place ?? "template")
        }
        // Refused here, before anything is stored: no receiver would take it either.
        if data.count > configuration.maxMessageBytes {
            throw KilnError(.invalidMessage, "the message is \(data.count) bytes, over delivery.maxMessageBytes (\(configuration.maxMessageBytes))",
                            location: place ?? "body")
        }
        var recipients: [Submission.Recipient] = []
        recipients.reserveCapacity(message.recipients.count)
        var variables: [[String: String]]?
        if case .template(_, let perRecipient) = message.body { variables = perRecipient }
        for (index, address) in message.recipients.enumerated() {
            let encoded = try variables.map { perRecipient throws(KilnError) in try Self.encoded(perRecipient[index], location: place ?? "variables") }
            var metadata: [UInt8]?
            if let all = message.metadata, index < all.count, !all[index].isEmpty {
                metadata = try Self.encoded(all[index], location: place ?? "metadata")
            }
            recipients.append(Submission.Recipient(address: address.description, provider: await provider(for: address), variables: encoded,
                                                   metadata: metadata))
        }
        return Submission(
            content: StoredContent(data: data, envelopeDomain: identity.returnPathDomain ?? identity.domain,
                                   configurationSet: configurationSet.name, campaign: message.campaign, fromDomain: identity.domain,
                                   isTemplate: { if case .template = message.body { true } else { false } }(), tenant: message.tenant),
            recipients: recipients, priority: (message.transactional ?? configurationSet.transactional ?? false) ? 1 : 0)
    }

    /// JSON for the store; a value that does not encode is an invalid message there.
    static func encoded(_ value: some Encodable, location: String) throws(KilnError) -> [UInt8] {
        do {
            return [UInt8](try JSONEncoder().encode(value))
        } catch {
            throw KilnError(.invalidMessage, "cannot be stored: \(error)", location: location)
        }
    }

    /// The recipient's mailbox provider: the built-in table, else (in MX mode) the
    /// domain's MX hosts, else `other`.
    func provider(for address: EmailAddress) async -> MailboxProvider {
        if let known = MailboxProvider.classify(domain: address.domain) { return known }
        guard configuration.delivery.mode == .mx else { return .other }
        if case .hosts(let hosts) = await mx.lookup(address.domain) { return MailboxProvider.classify(mxHosts: hosts.map(\.name)) }
        return .other
    }

    /// The engine's clock (the wall clock, or a test's manual clock): the one time every
    /// part of a process that uses the engine reads.
    public func currentTime() -> Timestamp { now() }

    /// The wall time on the engine's clock.
    func now() -> Timestamp { clock.now() }

    /// A token unique to this engine's run, for Message-IDs (`base36.base36`).
    public func makeUniqueToken() -> String {
        let (a, b) = messageIDs.withLock { ($0.next(), $0.next()) }
        return String(a, radix: 36) + "." + String(b, radix: 36)
    }

    // MARK: Control

    /// Stops sending (for the whole store, or one configuration set). Persisted: it holds
    /// across restarts and for every engine on the store; a running engine stops within
    /// a second. Nothing queued is lost.
    /// - Parameter reason: why, for the `paused` event (nil: an operator's pause).
    public func pause(configurationSet: String? = nil, reason: String? = nil) async throws(KilnError) {
        try validateConfigurationSet(configurationSet)
        try await store.setPaused(true, scope: configurationSet)
        pausesDidChange()
        let scope = configurationSet ?? "*"
        broadcaster.publish([DeliveryEvent(kind: .paused, time: now(), detail: reason.map { "\(scope): \($0)" } ?? scope)])
    }

    /// Resumes a scope; if the reputation guard had paused it, its window starts anew
    /// (the operator has dealt with the cause), so the old rates do not pause it again.
    public func resume(configurationSet: String? = nil) async throws(KilnError) {
        try validateConfigurationSet(configurationSet)
        try await resume(scope: configurationSet ?? "*")
    }

    /// Stops sending one tenant's mail (its messages stay queued); the other tenants
    /// keep sending, from the same identities too.
    public func pause(tenant: String, reason: String? = nil) async throws(KilnError) {
        try validateTenant(tenant)
        let scope = PausedScope.tenant(tenant)
        try await store.setPaused(true, scope: scope)
        pausesDidChange()
        broadcaster.publish([DeliveryEvent(kind: .paused, time: now(), detail: reason.map { "\(scope): \($0)" } ?? scope)])
    }

    /// Resumes a tenant paused by an operator or by the reputation guard.
    public func resume(tenant: String) async throws(KilnError) {
        try validateTenant(tenant)
        try await resume(scope: PausedScope.tenant(tenant))
    }

    private func resume(scope: String) async throws(KilnError) {
        if let snapshot = try await reputation()[scope], snapshot.status == .sendingPaused {
            try await store.restartReputationWindow(scope: scope, now: now())
        }
        try await store.setPaused(false, scope: scope == "*" ? nil : scope)
        pausesDidChange()
        broadcaster.publish([DeliveryEvent(kind: .resumed, time: now(), detail: scope)])
    }

    /// A running delivery reads the pauses again at once (another process's pause or
    /// resume is read at its next check, `DeliverySession.pauseCheckInterval`).
    func pausesDidChange() {
        pausesChanged.store(true, ordering: .relaxed)
        wakeup.poke()
    }

    /// Throws, naming the tenants, when `tenant` is not `default` or a configured tenant.
    public func validateTenant(_ tenant: String) throws(KilnError) {
        guard configuration.tenantNames.contains(tenant) else {
            throw KilnError(.invalidInput, "no tenant named '\(tenant)' (tenants: \(configuration.tenantNames.sorted().joined(separator: ", ")))",
                            location: "tenant")
        }
    }

    /// Queue depth by state and provider, and what is paused.
    /// Queue depth, pools (with the IPs a managed pool uses now), pauses, and the warm-up
    /// of every (IP, provider) pair as last saved by a delivering engine.
    public func status() async throws(KilnError) -> EngineStatus {
        let saved = try await store.loadShaping()
        let time = now()
        let warmup = pairStatus(saved?.pairs ?? [], now: time).map(\.status)
        var pools: [EngineStatus.PoolStatus] = []
        for pool in configuration.pools {
            var status = EngineStatus.PoolStatus(name: pool.name, ips: pool.ips, active: saved?.activePools[pool.name] ?? pool.ips)
            // A managed pool of a cluster: each live node's active IPs (its slice of maxIPs).
            if configuration.nodes != nil, (pool.scaling ?? .managed) == .managed {
                let slices = try await store.quotaSlices(DeliverySession.activeIPsQuota(pool.name), window: "live")
                status.activeByNode = slices.filter { $0.expiresAt > time }.reduce(into: [:]) { $0[$1.node] = $1.granted }
                status.maxIPs = pool.maxIPs ?? pool.ips.count
            }
            pools.append(status)
        }
        let nodes = try await store.nodes().map { node in
            EngineStatus.NodeInfo(node: node.node, ips: node.ips, heartbeatAt: node.heartbeatAt,
                                  secondsAgo: max(0, Int((time.nanoseconds - node.heartbeatAt.nanoseconds) / 1_000_000_000)), leased: node.leased)
        }
        let relaySlices = configuration.sharedPool?.dailyLimit == nil ? []
            : try await store.quotaSlices(DeliverySession.relayQuota, window: QuotaSlice.day(of: time))
        // The live nodes' slices of each provider's connection limit (a cluster's nodes only).
        var connectionSlices: [String: [QuotaSlice]] = [:]
        if configuration.nodes != nil {
            let configured = (configuration.providers ?? [:]).keys.map { MailboxProvider($0) }
            for provider in Set(ProviderProfile.builtIn.keys).union(configured).sorted() {
                let live = try await store.quotaSlices(DeliverySession.connectionQuota(provider.id), window: "live").filter { $0.expiresAt > time }
                if !live.isEmpty { connectionSlices[provider.id] = live }
            }
        }
        return EngineStatus(counts: try await store.counts(), pausedScopes: try await store.pausedScopes().sorted(), pools: pools,
                            warmup: warmup, reputation: try await reputation(),
                            suppressed: try await store.suppressionCounts().reduce(into: [:]) { $0[$1.key.rawValue] = $1.value }, nodes: nodes,
                            relaySlices: relaySlices, connectionSlices: connectionSlices,
                            receivingHosts: try await store.receivingHosts(deliveries: 10_000), destinations: try await destinationStatus())
    }

    /// Throws, naming the set, when `configurationSet` is not a configured set (nil, the
    /// whole account, always passes).
    public func validateConfigurationSet(_ configurationSet: String?) throws(KilnError) {
        guard let name = configurationSet else { return }
        guard configuration.configurationSets.contains(where: { $0.name == name }) else {
            let known = configuration.configurationSets.map(\.name).joined(separator: ", ")
            throw KilnError(.invalidInput, "no configuration set named '\(name)' (configured: \(known))", location: "configurationSet")
        }
    }

    /// Asks the running `run()` or `runUntilIdle()` to stop — or the next one, if none
    /// has started yet: no new transfers, running ones finish, the rest stays queued.
    public func stop() {
        stopping.withLock { $0 = true }
        wakeup.poke()
    }
}

/// What `kiln status` shows.
public struct EngineStatus: Sendable, Codable {
    public struct PoolStatus: Sendable, Codable {
        public var name: String
        public var ips: [String]
        /// The IPs in use now (a managed pool scales between minIPs and maxIPs).
        public var active: [String]
        /// A managed pool of a cluster: how many IPs each live node has active, and the
        /// pool's maxIPs that they share.
        public var activeByNode: [String: Int]? = nil
        public var maxIPs: Int? = nil
    }
    /// The warm-up of one (IP, provider) pair.
    public struct PairStatus: Sendable, Codable {
        public var ip: String
        public var provider: String
        /// The warm-up level as a percentage.
        public var percent: Int
        /// The safe hourly volume now.
        public var hourly: Int
        /// Set while the pair rests after a throttle or a block.
        public var suspendedUntil: Timestamp?
    }
    public var counts: [StateCount]
    public var pausedScopes: [String]
    public var pools: [PoolStatus]
    public var warmup: [PairStatus]
    /// The reputation guard per configuration set, and for the account (`*`).
    public var reputation: [String: ReputationSnapshot]
    /// Suppression list size by reason.
    public var suppressed: [String: Int]
    /// A node delivering from a shared store: its IPs, last heartbeat and leases.
    public struct NodeInfo: Sendable, Codable {
        public var node: String
        public var ips: [String]
        public var heartbeatAt: Timestamp
        public var secondsAgo: Int
        public var leased: Int
    }
    /// The delivering nodes of a shared store (empty for SQLite: one machine).
    public var nodes: [NodeInfo] = []
    /// Each node's slice of the shared relay's daily limit today (empty without a limit).
    public var relaySlices: [QuotaSlice] = []
    /// Each live node's slice of each provider's connection limit, by provider.
    public var connectionSlices: [String: [QuotaSlice]] = [:]
    /// The hosts that took the last 10,000 deliveries, by provider.
    public var receivingHosts: [HostCount]
    /// Each event destination's backlog and last error.
    public var destinations: [DestinationStatus] = []

    /// Totals by state name.
    public var byState: [String: Int] {
        counts.reduce(into: [:]) { $0[$1.state.description, default: 0] += $1.count }
    }
}

/// Checks on a raw message from the caller.
enum RawMessage {
    /// The raw message with CRLF line ends; it must have a header block with a From
    /// whose address is the envelope's From.
    static func checked(_ bytes: [UInt8], from: EmailAddress) throws(KilnError) -> [UInt8] {
        var normalized: [UInt8] = []
        normalized.reserveCapacity(bytes.count + bytes.count / 40)
        var previous: UInt8 = 0
        for byte in bytes {
            if byte == 10 && previous != 13 { normalized.append(13) }
            normalized.append(byte)
            previous = byte
        }
        if normalized.suffix(2) != [13, 10] { normalized += [13, 10] }
        let text = String(decoding: normalized.prefix(64 * 1024), as: UTF8.self)
        guard let end = text.range(of: "\r\n\r\n") else {
            throw KilnError(.invalidMessage, "a raw message needs a header block and a blank line before the body", location: "raw")
        }
        let head = text[..<end.lowerBound].lowercased()
        guard head.hasPrefix("from:") || head.contains("\r\nfrom:") else {
            throw KilnError(.invalidMessage, "a raw message needs a From header", location: "raw")
        }
        // The address as written there: its domain as the A-label or as the U-label.
        guard head.contains(from.description.lowercased()) || head.contains(from.displayDescription.lowercased()) else {
            throw KilnError(.notAllowedSender, "the raw message's From header is not \(from)", location: "raw")
        }
        return normalized
    }
}

extension SendEngine {
    /// Ends every `events()` stream (for a caller that is done with the engine).
    public func closeEvents() { broadcaster.finish() }

    /// The transport of one delivery run, with the configured timeouts; it tells
    /// `readings` of each reply as it arrives and carries out the orders returned.
    func makeTransport(startGate: StartGate? = nil, readings: ReplyReadings? = nil) -> any MailTransport {
        let d = configuration.delivery
        var onReply: ReplyObserver?
        if let readings { onReply = { readings.observe($0) } }
        return transportFactory(
            SMTPTransport.Options(heloName: d.heloName, connectTimeout: .saturatingSeconds(d.connectTimeoutSeconds ?? 30),
                                  transferTimeout: .saturatingSeconds(d.transferTimeoutSeconds ?? 300),
                                  caFile: d.caFile.map(secrets.resolve), onReply: onReply,
                                  transferThreads: d.transferThreads ?? SMTPTransport.Options.defaultTransferThreads, startGate: startGate),
            logger)
    }
}
