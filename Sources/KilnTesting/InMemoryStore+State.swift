import KilnCore
import KilnStore

extension InMemoryStore {
    /// Everything the store holds. Ids (contents, messages, events) count up from 1 and
    /// are never given twice.
    struct State {
        var contents: [Int64: StoredContent] = [:]
        var messages: [Int64: Message] = [:]
        /// The event log in id order.
        var events: [EventRow] = []
        var nextID = (content: Int64(1), message: Int64(1), event: Int64(1))
        var paused: Set<String> = []
        var shaping: SavedShaping?
        var suppressions: [SuppressionKey: SuppressionEntry] = [:]
        /// Reputation counters by scope and hour.
        var reputation: [String: [Int64: ReputationHour]] = [:]
        /// The hour from which the guard counts, by scope.
        var windowStarts: [String: Int64] = [:]
        var campaigns: [String: CampaignRecord] = [:]
        var cursors: [String: DestinationCursor] = [:]
        /// Quota slices by quota, window and node.
        var quotas: [String: [String: [String: QuotaSlice]]] = [:]
        var credentials: [String: CredentialRecord] = [:]
        var nodes: [String: NodeStatus] = [:]
        /// The node names a run is delivering as.
        var delivering: Set<String> = []

        mutating func add(content: StoredContent) -> Int64 {
            let id = nextID.content
            nextID.content += 1
            contents[id] = content
            return id
        }

        mutating func addMessage(contentID: Int64, state: MessageState, provider: MailboxProvider, recipient: String, variables: [UInt8]?,
                                 priority: Int, metadata: [UInt8]?, now: Timestamp) -> Message {
            let message = Message(id: MessageID(nextID.message), contentID: contentID, state: state, provider: provider, recipient: recipient,
                                  variables: variables, metadata: metadata, priority: priority, createdAt: now, nextAttemptAt: now, updatedAt: now)
            nextID.message += 1
            messages[message.id.rawValue] = message
            return message
        }

        mutating func update(_ id: MessageID, _ change: (inout Message) -> Void) {
            guard var message = messages[id.rawValue] else { return }
            change(&message)
            messages[id.rawValue] = message
        }

        mutating func append(_ new: [DeliveryEvent]) {
            for event in new {
                events.append(EventRow(id: nextID.event, event: event))
                nextID.event += 1
            }
        }

        /// The messages waiting for an attempt (queued, deferred) outside the paused
        /// scopes (`PausedScope`) and the excluded providers, due or not.
        func due(pausedSets: Set<String>, excluding: Set<MailboxProvider>) -> [Message] {
            let (sets, tenants) = PausedScope.split(pausedSets)
            return messages.values.filter { message in
                guard message.state == .queued || message.state == .deferred, !excluding.contains(message.provider) else { return false }
                guard let content = contents[message.contentID] else { return true }
                return !sets.contains(content.configurationSet) && !tenants.contains(content.tenant)
            }
        }

        /// Whether `lease` is current: its message leased under its epoch (and by `owner`).
        func holds(_ lease: MessageLease, owner: String?) -> Bool {
            guard let message = messages[lease.id.rawValue] else { return false }
            return message.state == .leased && message.leaseEpoch == lease.epoch && (owner.map { message.leaseOwner == $0 } ?? true)
        }

        /// Returns the leased messages `taken` picks to the queue; says how many.
        mutating func takeBack(where taken: (Message) -> Bool) -> Int {
            let back = messages.values.filter { $0.state == .leased && taken($0) }
            for message in back { update(message.id) { $0.returnToQueue() } }
            return back.count
        }

        /// Adds entries; an existing one stays unless `replace`. Returns how many it wrote.
        mutating func suppress(_ entries: [SuppressionEntry], replace: Bool) -> Int {
            var written = 0
            for entry in entries {
                let key = SuppressionKey(scope: entry.scope ?? "", address: entry.address)
                guard replace || suppressions[key] == nil else { continue }
                suppressions[key] = entry
                written += 1
            }
            return written
        }

        /// The entry that suppresses `address` for set `scope`: the account-wide one first.
        func suppression(of address: String, scope: String?) -> SuppressionEntry? {
            let lowered = address.lowercased()
            return suppressions[SuppressionKey(scope: "", address: lowered)] ?? scope.flatMap { suppressions[SuppressionKey(scope: $0, address: lowered)] }
        }

        /// Adds to the counters of the messages' scopes (`ReputationScope`) for the hour of `now`.
        mutating func count(sent: [MessageID], bounces: [MessageID], complaints: [MessageID], now: Timestamp) {
            let hour = ReputationScope.hour(of: now)
            for (ids, add) in [(sent, \ReputationHour.sent), (bounces, \.bounces), (complaints, \.complaints)] as [([MessageID], WritableKeyPath<ReputationHour, Int>)] {
                for id in ids {
                    guard let message = messages[id.rawValue], let content = contents[message.contentID] else { continue }
                    for scope in ReputationScope.of(configurationSet: content.configurationSet, tenant: content.tenant) {
                        reputation[scope, default: [:]][hour, default: ReputationHour(hour: hour, sent: 0, bounces: 0, complaints: 0)][keyPath: add] += 1
                    }
                }
            }
        }

        /// An event as destinations read it, with its message's set, campaign, tenant and metadata.
        func stored(_ row: EventRow) -> StoredEvent {
            let message = row.event.messageID.flatMap { messages[$0.rawValue] }
            let content = message.flatMap { contents[$0.contentID] }
            return StoredEvent(position: EventPosition(minor: row.id), id: row.id, event: row.event, configurationSet: content?.configurationSet,
                               campaign: content?.campaign, contentID: message?.contentID, tenant: content?.tenant, metadata: message?.metadata)
        }
    }

    struct Message {
        var id: MessageID
        var contentID: Int64
        var state: MessageState
        var provider: MailboxProvider
        var recipient: String
        var variables: [UInt8]?
        var metadata: [UInt8]?
        var priority: Int
        var createdAt: Timestamp
        var nextAttemptAt: Timestamp
        var updatedAt: Timestamp
        var attempts = 0
        var sourceIP: String?
        var lastReply: SMTPReply?
        var host: String?
        var leaseOwner: String?
        var leaseExpiresAt: Timestamp?
        /// Every lease adds one: the first lease is epoch 1.
        var leaseEpoch: Int64 = 0

        mutating func returnToQueue() {
            state = .queued
            leaseExpiresAt = nil
            leaseOwner = nil
        }

        func acceptedEvent(now: Timestamp) -> DeliveryEvent {
            DeliveryEvent(kind: .accepted, time: now, messageID: id, recipient: recipient, provider: provider)
        }
    }

    struct EventRow {
        var id: Int64
        var event: DeliveryEvent
    }

    struct SuppressionKey: Hashable {
        var scope: String
        var address: String
    }
}
