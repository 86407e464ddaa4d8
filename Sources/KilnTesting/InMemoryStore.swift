import KilnCore
import KilnStore
import Synchronization

/// A `MessageStore` in memory: the whole contract (`StoreContract`) with no file and no
/// server, for embedding the engine in tests. It behaves as a store shared by nodes (leases
/// with owners, epochs and expiry, heartbeats that take back expired leases, one run per
/// node name), all in one `Mutex`-protected state; nothing survives the process.
///
/// What is policy comes from the same Swift functions the other stores use: hard bounces'
/// suppressions and the reputation counts (`Outcome+Recording`), quota grants
/// (`QuotaSlice.grant`), stale outcomes' events (`Outcome.staleDetail`), pages
/// (`SuppressionPage`), destinations' filters (`OutboxFilter.takes`).
public final class InMemoryStore: MessageStore {
    let state = Mutex(State())

    public init() {}

    public var location: String { "memory" }

    /// Nothing to migrate.
    public func migrate() async throws(KilnError) -> Int { 0 }

    // MARK: Queue

    public func enqueue(_ submissions: [Submission], now: Timestamp) async throws(KilnError) -> [[MessageID]] {
        state.withLock { state in
            var result: [[MessageID]] = []
            var accepted: [DeliveryEvent] = []
            for submission in submissions {
                let contentID = state.add(content: submission.content)
                result.append(submission.recipients.map { recipient in
                    let message = state.addMessage(contentID: contentID, state: recipient.suppressed == nil ? .queued : .suppressed,
                                                   provider: recipient.provider, recipient: recipient.address, variables: recipient.variables,
                                                   priority: submission.priority, metadata: recipient.metadata, now: now)
                    if message.state == .queued { accepted.append(message.acceptedEvent(now: now)) }
                    return message.id
                })
            }
            state.append(accepted)
            return result
        }
    }

    /// Higher priority first (highest first, then due time, then id), then bulk by due
    /// time and id; providers excluded and paused scopes left queued.
    public func lease(limit: Int, owner: String, now: Timestamp, leaseUntil: Timestamp, excluding: Set<MailboxProvider>, pausedSets: Set<String>)
        async throws(KilnError) -> [LeasedMessage] {
        guard limit > 0 else { return [] }
        return state.withLock { state in
            let due = state.due(pausedSets: pausedSets, excluding: excluding).filter { $0.nextAttemptAt <= now }
            let urgent = due.filter { $0.priority > 0 }.sorted { (-$0.priority, $0.nextAttemptAt, $0.id.rawValue) < (-$1.priority, $1.nextAttemptAt, $1.id.rawValue) }
            let bulk = due.filter { $0.priority == 0 }.sorted { ($0.nextAttemptAt, $0.id.rawValue) < ($1.nextAttemptAt, $1.id.rawValue) }
            return (urgent + bulk).prefix(limit).map { message in
                state.update(message.id) {
                    $0.state = .leased
                    $0.leaseOwner = owner
                    $0.leaseExpiresAt = leaseUntil
                    $0.leaseEpoch += 1
                    $0.updatedAt = now
                }
                let leased = state.messages[message.id.rawValue] ?? message
                return LeasedMessage(id: leased.id, epoch: leased.leaseEpoch, contentID: leased.contentID, provider: leased.provider, recipient: leased.recipient,
                                     variables: leased.variables, createdAt: leased.createdAt, attempts: leased.attempts, priority: leased.priority)
            }
        }
    }

    public func contents(ids: [Int64]) async throws(KilnError) -> [Int64: StoredContent] {
        state.withLock { state in ids.reduce(into: [:]) { result, id in result[id] = state.contents[id] } }
    }

    /// Fencing as `MessageStore.record` says: only an outcome under its message's current
    /// lease changes it, suppresses and counts; a stale one leaves a `staleOutcome` event
    /// in place of its message's events.
    public func record(_ outcomes: [Outcome], events: [DeliveryEvent], now: Timestamp) async throws(KilnError) {
        state.withLock { state in
            var applied: [Outcome] = []
            var stale: [Outcome] = []
            for o in outcomes {
                guard let message = state.messages[o.id.rawValue], message.state == .leased, o.epoch == nil || o.epoch == message.leaseEpoch else {
                    if o.epoch != nil { stale.append(o) }
                    continue
                }
                state.update(o.id) {
                    $0.state = o.state
                    $0.nextAttemptAt = o.nextAttemptAt ?? $0.nextAttemptAt
                    $0.leaseExpiresAt = nil
                    $0.leaseOwner = nil
                    $0.attempts += o.countsAsAttempt ? 1 : 0
                    $0.sourceIP = o.via?.description ?? $0.sourceIP
                    $0.lastReply = o.reply ?? $0.lastReply
                    $0.host = o.host ?? $0.host
                    $0.updatedAt = now
                }
                applied.append(o)
            }
            let staleIDs = Set(stale.map(\.id)).subtracting(applied.map(\.id))
            var kept = events.filter { event in event.messageID.map { !staleIDs.contains($0) } ?? true }
            for o in stale {
                let message = state.messages[o.id.rawValue]
                kept.append(DeliveryEvent(kind: .staleOutcome, time: now, messageID: o.id, recipient: message?.recipient, provider: message?.provider,
                                          via: o.via, reply: o.reply, detail: o.staleDetail(now: message.map { (epoch: $0.leaseEpoch, state: $0.state) }), host: o.host))
            }
            state.append(kept)
            _ = state.suppress(applied.compactMap { $0.suppression(now: now) }, replace: false)
            state.count(sent: applied.filter(\.countsAsSend).map(\.id), bounces: applied.filter(\.countsAsHardBounce).map(\.id), complaints: [], now: now)
        }
    }

    public func release(_ leases: [MessageLease]) async throws(KilnError) {
        state.withLock { state in
            for lease in leases where state.holds(lease, owner: nil) {
                state.update(lease.id) { $0.returnToQueue() }
            }
        }
    }

    /// Takes `node`'s name for the run (a second run of the same node is refused while the
    /// claim lives) and returns to the queue the expired leases and those of the node's
    /// earlier runs (owners `node/…`).
    public func beginDelivery(node: String?, now: Timestamp) async throws(KilnError) -> DeliveryClaim {
        try state.withLock { state throws(KilnError) in
            if let node {
                guard state.delivering.insert(node).inserted else {
                    throw KilnError(.storeFailure, "another run is already delivering as node '\(node)'", location: location)
                }
            }
            let recovered = state.takeBack { message in
                message.leaseExpiresAt.map { $0 < now } ?? false || node.map { message.leaseOwner?.hasPrefix($0 + "/") ?? false } ?? false
            }
            return DeliveryClaim(recovered: recovered, holder: node.map { NodeClaim(node: $0, store: self) })
        }
    }

    /// Ends a node's claim (its `DeliveryClaim` was dropped).
    func endDelivery(node: String) {
        _ = state.withLock { $0.delivering.remove(node) }
    }

    public func heartbeat(_ heartbeat: NodeHeartbeat, now: Timestamp, leaseUntil: Timestamp) async throws(KilnError) -> HeartbeatResult {
        state.withLock { state in
            if let node = heartbeat.node {
                state.nodes[node] = NodeStatus(node: node, owner: heartbeat.owner, ips: heartbeat.ips, heartbeatAt: now, leased: 0)
            }
            for message in state.messages.values where message.state == .leased && message.leaseOwner == heartbeat.owner {
                state.update(message.id) { $0.leaseExpiresAt = leaseUntil }
            }
            let recovered = state.takeBack { $0.leaseExpiresAt.map { $0 < now } ?? false }
            let since = now.nanoseconds - (leaseUntil.nanoseconds - now.nanoseconds)
            let live = state.nodes.values.filter { $0.heartbeatAt.nanoseconds > since }.count + (heartbeat.node == nil ? 1 : 0)
            return HeartbeatResult(recovered: recovered, liveNodes: live, lost: heartbeat.holding.filter { !state.holds($0, owner: heartbeat.owner) })
        }
    }

    public func nodes() async throws(KilnError) -> [NodeStatus] {
        state.withLock { state in
            state.nodes.values.sorted { $0.node < $1.node }.map { node in
                var status = node
                status.leased = state.messages.values.filter { $0.state == .leased && $0.leaseOwner == node.owner }.count
                return status
            }
        }
    }

    public func takeQuota(_ quota: String, window: String, node: String, used: Int?, want: Int, limit: Int,
                          now: Timestamp, until: Timestamp) async throws(KilnError) -> QuotaSlice {
        state.withLock { state in
            let slices = state.quotas[quota, default: [:]][window, default: [:]]
            let slice = QuotaSlice.grant(node: node, window: window, mine: slices[node], others: slices.values.filter { $0.node != node },
                                         used: used, want: want, limit: limit, now: now, until: until)
            // Earlier windows are of no use any more.
            state.quotas[quota] = state.quotas[quota, default: [:]].filter { $0.key >= window }
            state.quotas[quota, default: [:]][window, default: [:]][node] = slice
            return slice
        }
    }

    public func quotaSlices(_ quota: String, window: String) async throws(KilnError) -> [QuotaSlice] {
        state.withLock { state in state.quotas[quota]?[window]?.values.sorted { $0.node < $1.node } ?? [] }
    }

    public func nextDue(pausedSets: Set<String>, excluding: Set<MailboxProvider>) async throws(KilnError) -> Timestamp? {
        state.withLock { state in state.due(pausedSets: pausedSets, excluding: excluding).map(\.nextAttemptAt).min() }
    }

    // MARK: Reading

    public func counts() async throws(KilnError) -> [StateCount] {
        state.withLock { state in
            Dictionary(grouping: state.messages.values) { StateKey(state: $0.state, provider: $0.provider) }
                .map { StateCount(state: $0.key.state, provider: $0.key.provider, count: $0.value.count) }
                .sorted { ($0.state.rawValue, $0.provider.id) < ($1.state.rawValue, $1.provider.id) }
        }
    }

    public func messages(ids: [MessageID]) async throws(KilnError) -> [MessageRecord] {
        state.withLock { state in
            ids.compactMap { id in
                state.messages[id.rawValue].map { message in
                    MessageRecord(id: message.id, recipient: message.recipient, provider: message.provider, state: message.state, attempts: message.attempts,
                                  via: message.sourceIP.map(SendingPath.init), lastReply: message.lastReply, nextAttemptAt: message.nextAttemptAt,
                                  host: message.host, tenant: state.contents[message.contentID]?.tenant ?? "default", metadata: message.metadata)
                }
            }
        }
    }

    public func events(ofMessage id: MessageID, limit: Int) async throws(KilnError) -> [DeliveryEvent] {
        state.withLock { state in Array(state.events.filter { $0.event.messageID == id }.prefix(max(0, limit)).map(\.event)) }
    }

    public func events(after afterID: Int64, limit: Int) async throws(KilnError) -> [(id: Int64, event: DeliveryEvent)] {
        state.withLock { state in state.events.filter { $0.id > afterID }.prefix(max(0, limit)).map { (id: $0.id, event: $0.event) } }
    }

    /// The hosts of the last `deliveries` delivery events, by provider, most first.
    public func receivingHosts(deliveries: Int) async throws(KilnError) -> [HostCount] {
        state.withLock { state in
            let recent = state.events.reversed().filter { $0.event.kind == .delivery && $0.event.host != nil }.prefix(max(0, deliveries))
            return Dictionary(grouping: recent) { HostKey(provider: $0.event.provider ?? MailboxProvider("other"), host: $0.event.host ?? "") }
                .map { HostCount(provider: $0.key.provider, host: $0.key.host, deliveries: $0.value.count) }
                .sorted { ($0.provider.id, -$0.deliveries, $0.host) < ($1.provider.id, -$1.deliveries, $1.host) }
        }
    }

    public func append(events: [DeliveryEvent]) async throws(KilnError) {
        state.withLock { $0.append(events) }
    }

    // MARK: Control

    public func setPaused(_ paused: Bool, scope: String?) async throws(KilnError) {
        state.withLock { state in
            if paused { state.paused.insert(scope ?? "*") } else { state.paused.remove(scope ?? "*") }
        }
    }

    public func pausedScopes() async throws(KilnError) -> Set<String> {
        state.withLock { $0.paused }
    }

    /// Replaces the state of the IPs it names (`ownedIPs`; nil: every IP, the whole state),
    /// leaving other nodes' IPs as they are; keeps the paces saved last when it has none.
    public func saveShaping(_ shaping: SavedShaping) async throws(KilnError) {
        state.withLock { state in
            guard let owned = shaping.ownedIPs.map({ Set($0) }), let old = state.shaping else {
                state.shaping = SavedShaping(pairs: shaping.pairs, activePools: shaping.activePools, paces: shaping.paces)
                return
            }
            var pools = old.activePools.mapValues { $0.filter { !owned.contains($0) } }
            for (pool, ips) in shaping.activePools { pools[pool, default: []] += ips }
            state.shaping = SavedShaping(pairs: old.pairs.filter { !owned.contains($0.ip) } + shaping.pairs,
                                         activePools: pools.mapValues { $0.sorted() }.filter { !$0.value.isEmpty }, paces: shaping.paces ?? old.paces)
        }
    }

    public func loadShaping() async throws(KilnError) -> SavedShaping? {
        state.withLock { $0.shaping }
    }

    // MARK: Inspection

    public func recentEvents(matching filter: EventQuery, limit: Int) async throws(KilnError) -> [StoredEvent] {
        guard limit > 0 else { return [] }
        return state.withLock { state in
            var matching: [StoredEvent] = []
            for row in state.events.reversed() where matching.count < limit {
                let stored = state.stored(row)
                if let recipient = filter.recipient, stored.event.recipient != recipient { continue }
                if !filter.kinds.isEmpty, !filter.kinds.contains(stored.event.kind) { continue }
                if let since = filter.since, stored.event.time < since { continue }
                if let campaign = filter.campaign, stored.campaign != campaign { continue }
                matching.append(stored)
            }
            return matching.reversed()
        }
    }

    public func queueSummary() async throws(KilnError) -> [QueueCount] {
        state.withLock { state in
            let unfinished = state.messages.values.filter { [.queued, .leased, .deferred].contains($0.state) }
            return Dictionary(grouping: unfinished) { QueueKey(provider: $0.provider, state: $0.state, sourceIP: $0.state == .deferred ? $0.sourceIP : nil) }
                .map { key, messages in
                    QueueCount(provider: key.provider, state: key.state, sourceIP: key.sourceIP, count: messages.count,
                               nextDue: key.state == .leased ? nil : messages.map(\.nextAttemptAt).min())
                }
                .sorted { ($0.provider.id, $0.state.rawValue, $0.sourceIP ?? "") < ($1.provider.id, $1.state.rawValue, $1.sourceIP ?? "") }
        }
    }

    public func retryNow(provider: MailboxProvider?, recipient: String?, now: Timestamp) async throws(KilnError) -> Int {
        state.withLock { state in
            let waiting = state.messages.values.filter { message in
                message.state == .deferred && message.nextAttemptAt > now && (provider.map { message.provider == $0 } ?? true)
                    && (recipient.map { message.recipient == $0 } ?? true)
            }
            for message in waiting {
                state.update(message.id) {
                    $0.nextAttemptAt = now
                    $0.updatedAt = now
                }
            }
            return waiting.count
        }
    }
}

/// A node's delivering run: while it lives, no other run takes the node's name.
final class NodeClaim: Sendable {
    let node: String
    let store: InMemoryStore

    init(node: String, store: InMemoryStore) {
        self.node = node
        self.store = store
    }

    deinit { store.endDelivery(node: node) }
}

private struct StateKey: Hashable {
    var state: MessageState
    var provider: MailboxProvider
}

private struct HostKey: Hashable {
    var provider: MailboxProvider
    var host: String
}

private struct QueueKey: Hashable {
    var provider: MailboxProvider
    var state: MessageState
    var sourceIP: String?
}
