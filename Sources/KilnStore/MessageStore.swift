import KilnCore

/// The durable store behind the engine, campaigns, feedback and the CLI: the queue and
/// its leases, outcomes and events, pauses, the warm-up state, the suppression list, the
/// reputation counters and campaigns. `SQLiteStore` is the embedded implementation; a
/// store shared by several nodes (PostgreSQL) implements the same protocol.
///
/// Every call is `async`: an implementation does its I/O off Swift's cooperative pool
/// (GRDB's own queues for SQLite). The store records what it is told: the dispatcher
/// decides outcomes, suppressions and what counts against reputation (`Outcome`).
public protocol MessageStore: CredentialStore {
    /// Where the store is, for messages (a path; never a password).
    var location: String { get }
    /// Creates or upgrades the schema (opening a SQLite store already did); returns how
    /// many migrations ran.
    @discardableResult
    func migrate() async throws(KilnError) -> Int

    // MARK: Queue

    /// Stores submissions durably; returns each one's message ids once committed.
    func enqueue(_ submissions: [Submission], now: Timestamp) async throws(KilnError) -> [[MessageID]]
    /// Leases up to `limit` due messages to `owner` until `leaseUntil` (higher priority
    /// first, then oldest due first; the result in that order),
    /// leaving those of `excluding` providers and `pausedSets` configuration sets queued.
    func lease(limit: Int, owner: String, now: Timestamp, leaseUntil: Timestamp, excluding: Set<MailboxProvider>, pausedSets: Set<String>)
        async throws(KilnError) -> [LeasedMessage]
    /// The contents with these ids.
    func contents(ids: [Int64]) async throws(KilnError) -> [Int64: StoredContent]
    /// Records attempt outcomes of leased messages and their events, in one transaction:
    /// states, the hard bounces' suppressions, the reputation counters.
    ///
    /// Fencing: an outcome changes its message only while the message is leased under the
    /// outcome's epoch (`Outcome.epoch`; nil: while it is leased at all). A stale one
    /// (its lease expired and was taken back, perhaps leased again) changes nothing: not
    /// the state, the attempts, the suppression list or the reputation counters; the
    /// events given for its message are replaced by one `staleOutcome` event.
    func record(_ outcomes: [Outcome], events: [DeliveryEvent], now: Timestamp) async throws(KilnError)
    /// Puts leased messages back as they were, without counting an attempt: only those
    /// still leased under the given epoch (a stale release does nothing).
    func release(_ leases: [MessageLease]) async throws(KilnError)
    /// Starts a delivering run of `node` (nil: an unnamed deliverer): returns leased
    /// messages that nobody will finish to the queue (SQLite, whose one deliverer holds
    /// `DeliveryLock`: all of them; a shared store: the expired leases and those of this
    /// node's earlier run). The claim is held for the run and released when it is dropped;
    /// it keeps a second process from running as the same node.
    func beginDelivery(node: String?, now: Timestamp) async throws(KilnError) -> DeliveryClaim
    /// Renews `heartbeat.owner`'s leases until `leaseUntil`, records the node's heartbeat,
    /// and returns to the queue the messages whose lease expired (their owner stopped
    /// renewing: it died). Says how many it took back, how many nodes are alive, and
    /// which of `heartbeat.holding` the owner no longer holds (lost while it stalled).
    func heartbeat(_ heartbeat: NodeHeartbeat, now: Timestamp, leaseUntil: Timestamp) async throws(KilnError) -> HeartbeatResult
    /// The delivering nodes that have sent a heartbeat, with what they hold leased.
    func nodes() async throws(KilnError) -> [NodeStatus]
    /// Records that `node` has used `used` of the cluster-wide `limit` named `quota` in
    /// `window` (nil: not known, all it was granted counts), grants it up to `want` more
    /// (`QuotaSlice.grant`: never past the limit, counting the other nodes' live slices),
    /// and renews its slice until `until`.
    /// Returns the node's slice.
    func takeQuota(_ quota: String, window: String, node: String, used: Int?, want: Int, limit: Int,
                   now: Timestamp, until: Timestamp) async throws(KilnError) -> QuotaSlice
    /// Every node's slice of `quota` in `window`.
    func quotaSlices(_ quota: String, window: String) async throws(KilnError) -> [QuotaSlice]
    /// When the next due message outside `pausedSets` and `excluding` comes due.
    func nextDue(pausedSets: Set<String>, excluding: Set<MailboxProvider>) async throws(KilnError) -> Timestamp?

    // MARK: Reading

    /// Message counts by state and provider.
    func counts() async throws(KilnError) -> [StateCount]
    /// The messages with these ids, in the order given.
    func messages(ids: [MessageID]) async throws(KilnError) -> [MessageRecord]
    /// Events after the cursor `afterID` (exclusive), oldest first, with their cursors.
    func events(after afterID: Int64, limit: Int) async throws(KilnError) -> [(id: Int64, event: DeliveryEvent)]
    /// The receiving hosts that took the last `deliveries` deliveries, with counts, by
    /// provider (most first).
    func receivingHosts(deliveries: Int) async throws(KilnError) -> [HostCount]
    /// Appends events not tied to an outcome.
    func append(events: [DeliveryEvent]) async throws(KilnError)

    // MARK: Event destinations and retention

    /// Up to `limit` events after `position`, in log order (`EventPosition`), with their
    /// messages' configuration set and campaign.
    func outboxEvents(after position: EventPosition, limit: Int) async throws(KilnError) -> [StoredEvent]
    /// How many events lie after `position` (at most `cap`: counting stops there); with a
    /// filter, only those a destination takes.
    func outboxCount(after position: EventPosition, cap: Int, taking filter: OutboxFilter?) async throws(KilnError) -> Int
    /// The time of the first event after `position` (nil: none).
    func outboxTime(after position: EventPosition) async throws(KilnError) -> Timestamp?
    /// Every destination's saved cursor, by name.
    func destinationCursors() async throws(KilnError) -> [String: DestinationCursor]
    /// Saves a destination's cursor and last error (nil: the last attempt succeeded).
    func saveDestinationCursor(_ cursor: DestinationCursor) async throws(KilnError)
    /// One small retention batch: up to `limit` final messages last updated before
    /// `before`, the contents no message or campaign uses any more, and up to `limit`
    /// events older than `before`. Suppressions, warm-up state and campaigns stay.
    func purge(before: Timestamp, limit: Int) async throws(KilnError) -> PurgeResult

    // MARK: Control

    /// Pauses or resumes the whole store (`scope` nil) or one configuration set.
    func setPaused(_ paused: Bool, scope: String?) async throws(KilnError)
    /// The paused scopes: `*` for the whole store, else configuration set names.
    func pausedScopes() async throws(KilnError) -> Set<String>
    /// Saves the warm-up state of every (IP, provider) pair and the pools' active IPs.
    func saveShaping(_ shaping: SavedShaping) async throws(KilnError)
    /// The warm-up state saved last, if any.
    func loadShaping() async throws(KilnError) -> SavedShaping?

    // MARK: Suppression

    /// Adds entries; returns how many were new (an existing entry stays unless `replace`).
    @discardableResult
    func suppress(_ entries: [SuppressionEntry], replace: Bool) async throws(KilnError) -> Int
    /// Removes an address from one scope (nil: the account list); true if it was there.
    @discardableResult
    func unsuppress(_ address: String, scope: String?) async throws(KilnError) -> Bool
    /// The entry that suppresses `address` for configuration set `scope`, if any.
    func suppression(of address: String, scope: String?) async throws(KilnError) -> SuppressionEntry?
    /// The reasons that suppress each of `addresses` for configuration set `scope`.
    func suppressions(of addresses: [String], scope: String) async throws(KilnError) -> [String: SuppressionReason]
    /// One page of the list by keyset (`after` is the previous page's token).
    func suppressionPage(reason: SuppressionReason?, pageSize: Int, after token: String?) async throws(KilnError) -> SuppressionPage
    /// List size.
    func suppressionTotal() async throws(KilnError) -> Int
    /// List size by reason.
    func suppressionCounts() async throws(KilnError) -> [SuppressionReason: Int]

    // MARK: Reputation and feedback

    /// Records bounces and complaints that came back, their events and suppressions.
    @discardableResult
    func recordFeedback(events: [DeliveryEvent], bounces: [MessageID], complaints: [MessageID], suppressions: [SuppressionEntry], now: Timestamp)
        async throws(KilnError) -> Int
    /// The reputation counters of every scope for the last `hours` hours.
    func reputationHours(now: Timestamp, hours: Int) async throws(KilnError) -> [String: [ReputationHour]]
    /// The hour from which the guard counts for `scope`.
    func reputationWindowStart(scope: String) async throws(KilnError) -> Int64?
    /// Starts the guard's window for `scope` anew from the next hour.
    func restartReputationWindow(scope: String, now: Timestamp) async throws(KilnError)
    /// The stored message a piece of feedback is about: the message `messageID` whatever
    /// its recipient, else the latest message Kiln has sent to `recipient` (attempted).
    func feedbackTarget(messageID: MessageID?, recipient: String?) async throws(KilnError) -> (id: MessageID, configurationSet: String, recipient: String)?

    // MARK: Campaigns

    func createCampaign(id: String, content: StoredContent, recipientsFile: String, now: Timestamp) async throws(KilnError) -> CampaignRecord
    func campaign(id: String) async throws(KilnError) -> CampaignRecord?
    /// Stores a batch of a campaign's rows with its resume point, in one transaction.
    func ingest(campaign: String, contentID: Int64, rows: [CampaignRow], rowsRead: Int, rejected: Int, duplicates: Int, complete: Bool, now: Timestamp)
        async throws(KilnError) -> Int
    /// A page of the recipient addresses queued for a content, in id order after `after`
    /// (to rebuild a resumed campaign's duplicate filter); `next` is nil at the end.
    func recipients(contentID: Int64, after: MessageID?, limit: Int) async throws(KilnError) -> (addresses: [String], next: MessageID?)
    func campaignCounts(contentID: Int64) async throws(KilnError) -> (counts: [StateCount], spilled: Int, transientFailures: Int)
    func countEvents(kind: DeliveryEvent.Kind, contentID: Int64) async throws(KilnError) -> Int

    // MARK: Inspection

    /// The newest `limit` events that match `filter`, returned oldest first, with their
    /// messages' configuration set, campaign, tenant and metadata (`kiln events`).
    func recentEvents(matching filter: EventQuery, limit: Int) async throws(KilnError) -> [StoredEvent]
    /// The unfinished messages (queued, leased, deferred) counted by provider and state,
    /// deferred ones also by the source IP of their last attempt (`kiln queue`).
    func queueSummary() async throws(KilnError) -> [QueueCount]
    /// Makes the deferred messages that wait for a later attempt due at `now`: all of them,
    /// or those of `provider` and/or `recipient`. Leased and final messages stay as they
    /// are. Returns how many it made due (`kiln queue retry`).
    func retryNow(provider: MailboxProvider?, recipient: String?, now: Timestamp) async throws(KilnError) -> Int
}

/// What a delivering run says of itself, every few seconds.
public struct NodeHeartbeat: Sendable, Hashable {
    /// The lease owner: unique per run (`node/host-pid-random`).
    public var owner: String
    /// The configured node name (nil: an engine that is not one of the configured nodes;
    /// it renews its leases but is not listed).
    public var node: String?
    /// The source IPs this run sends from.
    public var ips: [String]
    /// The leases the run believes it holds (its messages in flight): the heartbeat says
    /// which of them are lost (`HeartbeatResult.lost`).
    public var holding: [MessageLease]
    public init(owner: String, node: String?, ips: [String], holding: [MessageLease] = []) {
        self.owner = owner
        self.node = node
        self.ips = ips
        self.holding = holding
    }
}

/// What a heartbeat learned.
public struct HeartbeatResult: Sendable, Hashable {
    /// Messages whose lease had expired, now back in the queue.
    public var recovered: Int
    /// Nodes that sent a heartbeat within the last lease time (this one included; at least 1):
    /// a node takes this share of the limits that hold for the whole pool.
    public var liveNodes: Int
    /// The leases of `NodeHeartbeat.holding` that the owner no longer holds under their
    /// epoch: they expired and were taken back (and perhaps leased again). Their outcomes
    /// will be stale; the run should not start what it still holds for them.
    public var lost: [MessageLease]
    public init(recovered: Int, liveNodes: Int, lost: [MessageLease] = []) {
        self.recovered = recovered
        self.liveNodes = max(1, liveNodes)
        self.lost = lost
    }
}

/// A delivering node as the store knows it.
public struct NodeStatus: Sendable, Hashable, Codable {
    public var node: String
    public var owner: String
    public var ips: [String]
    public var heartbeatAt: Timestamp
    /// Messages leased by this node's current run.
    public var leased: Int
    public init(node: String, owner: String, ips: [String], heartbeatAt: Timestamp, leased: Int) {
        self.node = node
        self.owner = owner
        self.ips = ips
        self.heartbeatAt = heartbeatAt
        self.leased = leased
    }
}

/// How many of the recent deliveries to a provider one receiving host took.
public struct HostCount: Sendable, Hashable, Codable {
    public var provider: MailboxProvider
    public var host: String
    public var deliveries: Int
    public init(provider: MailboxProvider, host: String, deliveries: Int) {
        self.provider = provider
        self.host = host
        self.deliveries = deliveries
    }
}

/// What a delivering run holds while it runs (for SQLite, the delivery lock), and how
/// many leased messages it returned to the queue when it began.
public struct DeliveryClaim: Sendable {
    public let recovered: Int
    let holder: (any Sendable)?

    public init(recovered: Int, holder: (any Sendable)?) {
        self.recovered = recovered
        self.holder = holder
    }
}

extension MessageStore {
    /// Events from the start (or after `afterID`), at most `limit`.
    public func events(after afterID: Int64 = 0) async throws(KilnError) -> [(id: Int64, event: DeliveryEvent)] {
        try await events(after: afterID, limit: 1000)
    }

    /// Pauses or resumes the whole store.
    public func setPaused(_ paused: Bool) async throws(KilnError) {
        try await setPaused(paused, scope: nil)
    }

    /// Adds entries; an address already suppressed keeps its first entry.
    @discardableResult
    public func suppress(_ entries: [SuppressionEntry]) async throws(KilnError) -> Int {
        try await suppress(entries, replace: false)
    }

    /// The entry that suppresses `address` account-wide, if any.
    public func suppression(of address: String) async throws(KilnError) -> SuppressionEntry? {
        try await suppression(of: address, scope: nil)
    }
}
