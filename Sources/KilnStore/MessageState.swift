import KilnCore

/// Where a stored message is in its life.
public enum MessageState: Int, Sendable, Codable, CaseIterable, CustomStringConvertible {
    case queued = 0
    /// Taken by a delivering engine until its lease expires.
    case leased = 1
    /// Waiting for its next attempt.
    case deferred = 2
    case delivered = 3
    case bounced = 4
    case expired = 5
    case suppressed = 6
    /// Could not be composed (a template variable missing, a broken body).
    case failed = 7

    public var isFinal: Bool { rawValue >= 3 }

    /// The SQL condition of a message waiting for an attempt (queued or deferred); the
    /// same text as the partial index `messages_ready`, so that SQLite uses it.
    static let dueSQL = "state IN (\(queued.rawValue), \(deferred.rawValue))"
    public var description: String {
        switch self {
        case .queued: "queued"
        case .leased: "leased"
        case .deferred: "deferred"
        case .delivered: "delivered"
        case .bounced: "bounced"
        case .expired: "expired"
        case .suppressed: "suppressed"
        case .failed: "failed"
        }
    }
    public init?(name: String) {
        guard let match = Self.allCases.first(where: { $0.description == name }) else { return nil }
        self = match
    }
}

/// What is stored once per submission and shared by its recipients.
public struct StoredContent: Sendable, Hashable {
    /// The RFC 5322 message (or a template), as the submitter gave it.
    public var data: [UInt8]
    /// Domain of the envelope sender (`b+<id>@domain`).
    public var envelopeDomain: String
    public var configurationSet: String
    public var campaign: String?
    /// The From address's domain: which identity signs it.
    public var fromDomain: String?
    /// `data` is a JSON template rendered per recipient with its variables.
    public var isTemplate: Bool
    /// The tenant that handed it to Kiln (`default` for the library, campaigns and `kiln send`).
    public var tenant: String
    public init(data: [UInt8], envelopeDomain: String, configurationSet: String, campaign: String? = nil, fromDomain: String? = nil,
                isTemplate: Bool = false, tenant: String = "default") {
        self.tenant = tenant
        self.fromDomain = fromDomain
        self.isTemplate = isTemplate
        self.data = data
        self.envelopeDomain = envelopeDomain
        self.configurationSet = configurationSet
        self.campaign = campaign
    }
}

/// One submission: a content and its recipients.
public struct Submission: Sendable {
    public struct Recipient: Sendable, Hashable {
        public var address: String
        public var provider: MailboxProvider
        /// Per-recipient template variables (JSON), when the content is a template.
        public var variables: [UInt8]?
        /// Set when the address is on the suppression list: the message is stored as
        /// suppressed (final, never sent) so that it is counted.
        public var suppressed: SuppressionReason?
        /// The submitter's metadata (a JSON object of strings), given back in every event.
        public var metadata: [UInt8]?
        public init(address: String, provider: MailboxProvider, variables: [UInt8]? = nil, suppressed: SuppressionReason? = nil, metadata: [UInt8]? = nil) {
            self.metadata = metadata
            self.address = address
            self.provider = provider
            self.variables = variables
            self.suppressed = suppressed
        }
    }
    public var content: StoredContent
    public var recipients: [Recipient]
    /// Leased before every message of a lower priority that is due (0: bulk; 1:
    /// transactional, from `ConfigurationSet.transactional`).
    public var priority: Int
    public init(content: StoredContent, recipients: [Recipient], priority: Int = 0) {
        self.content = content
        self.recipients = recipients
        self.priority = priority
    }
}

/// One lease of one message: the message and the lease's epoch. Every lease of a message
/// has a higher epoch than the one before, so an epoch names one lease for good: the
/// store accepts an outcome or a release only from the current epoch, while the message
/// is still leased (a holder that stalled past its lease cannot undo what came after).
public struct MessageLease: Sendable, Hashable {
    public var id: MessageID
    public var epoch: Int64
    public init(id: MessageID, epoch: Int64) {
        self.id = id
        self.epoch = epoch
    }
}

/// A message taken for delivery.
public struct LeasedMessage: Sendable, Hashable {
    public var id: MessageID
    /// This lease's epoch (`MessageLease`): what its outcome and release name.
    public var epoch: Int64
    public var contentID: Int64
    public var provider: MailboxProvider
    public var recipient: String
    public var variables: [UInt8]?
    public var createdAt: Timestamp
    /// Attempts made before this one.
    public var attempts: Int
    /// The submission's priority (`Submission.priority`): the transport starts it ahead
    /// of lower-priority jobs waiting on the same lane.
    public var priority: Int

    public init(id: MessageID, epoch: Int64, contentID: Int64, provider: MailboxProvider, recipient: String, variables: [UInt8]?, createdAt: Timestamp,
                attempts: Int, priority: Int = 0) {
        self.priority = priority
        self.id = id
        self.epoch = epoch
        self.contentID = contentID
        self.provider = provider
        self.recipient = recipient
        self.variables = variables
        self.createdAt = createdAt
        self.attempts = attempts
    }

    /// The lease this message is held under.
    public var lease: MessageLease { MessageLease(id: id, epoch: epoch) }
}

/// The result of one attempt, to be recorded.
public struct Outcome: Sendable, Hashable {
    public var id: MessageID
    public var state: MessageState
    /// For `.deferred` and `.queued`: when to try again.
    public var nextAttemptAt: Timestamp?
    public var reply: SMTPReply?
    /// How the attempt left (nil when nothing left: a local reply, a deferral).
    public var via: SendingPath?
    /// Whether this outcome counts as an attempt (a capacity deferral does not).
    public var countsAsAttempt: Bool
    /// The address to suppress, as the dispatcher decided (a hard bounce): the store
    /// records it, it does not decide it.
    public var suppressRecipient: String?
    /// The receiving host that gave `reply`.
    public var host: String?
    /// The epoch of the lease it was decided under (`LeasedMessage.epoch`): the store
    /// records it only while that lease is current, else it keeps a `staleOutcome` event
    /// instead. nil: not fenced, for a caller that did not lease the message (the engine
    /// always sets it); the message must still be leased.
    public var epoch: Int64?
    /// Who held the lease (`NodeHeartbeat.owner`), named in a stale outcome's event.
    public var owner: String?
    public init(id: MessageID, state: MessageState, nextAttemptAt: Timestamp? = nil, reply: SMTPReply? = nil, via: SendingPath? = nil,
                countsAsAttempt: Bool = true, suppressRecipient: String? = nil, epoch: Int64? = nil, owner: String? = nil) {
        self.epoch = epoch
        self.owner = owner
        self.id = id
        self.state = state
        self.nextAttemptAt = nextAttemptAt
        self.reply = reply
        self.via = via
        self.countsAsAttempt = countsAsAttempt
        self.suppressRecipient = suppressRecipient
    }
}

extension Outcome {
    /// What a stale outcome would have recorded, for its `staleOutcome` event:
    /// `a/host-1-2 (lease epoch 3) would have recorded bounced: 550 5.1.1 user unknown`.
    /// The store adds where the message is now (`staleDetail(now:)`).
    public var staleDescription: String {
        "\(owner ?? "an unnamed holder") (lease epoch \(epoch.map(String.init) ?? "none")) would have recorded \(state)"
            + (reply.map { ": \($0.description)" } ?? "")
    }

    /// The detail of a stale outcome's event: `staleDescription`, then the message's lease
    /// epoch and state when it came (nil: the message is no longer stored).
    public func staleDetail(now current: (epoch: Int64, state: MessageState)?) -> String {
        staleDescription + (current.map { "; the message is at lease epoch \($0.epoch), \($0.state)" } ?? "; the message is no longer stored")
    }
}

/// A stored message as `kiln send --wait` and status report it.
public struct MessageRecord: Sendable, Hashable, Codable {
    public var id: MessageID
    public var recipient: String
    public var provider: MailboxProvider
    public var state: MessageState
    public var attempts: Int
    /// How the last attempt left.
    public var via: SendingPath?
    public var lastReply: SMTPReply?
    public var nextAttemptAt: Timestamp
    /// The receiving host that gave the last reply (for a delivered message, the host
    /// that took it).
    public var host: String?
    /// The tenant that submitted it, and the submitter's metadata (a JSON object of strings).
    public var tenant: String = "default"
    public var metadata: [UInt8]?
    public init(id: MessageID, recipient: String, provider: MailboxProvider, state: MessageState, attempts: Int, via: SendingPath?,
                lastReply: SMTPReply?, nextAttemptAt: Timestamp, host: String? = nil, tenant: String = "default", metadata: [UInt8]? = nil) {
        self.tenant = tenant
        self.metadata = metadata
        self.id = id
        self.host = host
        self.recipient = recipient
        self.provider = provider
        self.state = state
        self.attempts = attempts
        self.via = via
        self.lastReply = lastReply
        self.nextAttemptAt = nextAttemptAt
    }
}

public struct StateCount: Sendable, Hashable, Codable {
    public var state: MessageState
    public var provider: MailboxProvider
    public var count: Int
    public init(state: MessageState, provider: MailboxProvider, count: Int) {
        self.state = state
        self.provider = provider
        self.count = count
    }
}

/// The scopes that pause sending: `*` (the whole store), a configuration set's name, or
/// `tenant:NAME`; and the reputation counters' scopes (a set's name, or `tenant:NAME`).
public enum PausedScope {
    public static let tenantPrefix = "tenant:"

    /// The scope of a tenant.
    public static func tenant(_ name: String) -> String { tenantPrefix + name }

    /// The configuration sets and the tenants among `scopes` (`*` left out).
    public static func split(_ scopes: Set<String>) -> (sets: [String], tenants: [String]) {
        var sets: [String] = []
        var tenants: [String] = []
        for scope in scopes where scope != "*" {
            if scope.hasPrefix(tenantPrefix) { tenants.append(String(scope.dropFirst(tenantPrefix.count))) } else { sets.append(scope) }
        }
        return (sets.sorted(), tenants.sorted())
    }
}
