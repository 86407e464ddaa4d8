import KilnCore

/// Which events `MessageStore.recentEvents(matching:limit:)` returns (`kiln events`).
/// Every condition given must hold; an empty query matches every event.
public struct EventQuery: Sendable, Hashable {
    /// Events of this recipient address (as stored: `EmailAddress.description`).
    public var recipient: String?
    /// Events of the messages of this campaign.
    public var campaign: String?
    /// Only these kinds (empty: every kind).
    public var kinds: Set<DeliveryEvent.Kind>
    /// Events at or after this time.
    public var since: Timestamp?

    public init(recipient: String? = nil, campaign: String? = nil, kinds: Set<DeliveryEvent.Kind> = [], since: Timestamp? = nil) {
        self.recipient = recipient
        self.campaign = campaign
        self.kinds = kinds
        self.since = since
    }
}

/// One row of `MessageStore.queueSummary()`: the messages of one provider in one
/// unfinished state (queued, leased or deferred), and for deferred ones the source IP of
/// their last attempt.
public struct QueueCount: Sendable, Hashable, Codable {
    public var provider: MailboxProvider
    /// `.queued`, `.leased` or `.deferred`.
    public var state: MessageState
    /// For deferred messages, the source IP (or `shared`) their last attempt left from;
    /// nil for the other states, and for deferrals before anything left (no connection).
    public var sourceIP: String?
    public var count: Int
    /// The earliest next attempt of these messages (queued and deferred; nil for leased).
    public var nextDue: Timestamp?

    public init(provider: MailboxProvider, state: MessageState, sourceIP: String? = nil, count: Int, nextDue: Timestamp? = nil) {
        self.provider = provider
        self.state = state
        self.sourceIP = sourceIP
        self.count = count
        self.nextDue = nextDue
    }
}
