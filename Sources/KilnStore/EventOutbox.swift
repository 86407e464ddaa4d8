import KilnCore

/// A place in the event log, which destinations read in order. SQLite writes one
/// transaction at a time, so its order is the events' row id: `(0, id)`. On PostgreSQL,
/// ids are taken before commit, so a later id can commit first; there the order is
/// `(transaction id, id)`, and only transactions older than every running one are read
/// (nothing can commit behind the cursor).
public struct EventPosition: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    public var major: Int64
    public var minor: Int64
    public init(major: Int64 = 0, minor: Int64) {
        self.major = major
        self.minor = minor
    }
    /// Before every event.
    public static let start = EventPosition(major: 0, minor: 0)
    public static func < (lhs: Self, rhs: Self) -> Bool { (lhs.major, lhs.minor) < (rhs.major, rhs.minor) }
    public var description: String { major == 0 ? "\(minor)" : "\(major).\(minor)" }
}

/// An event as the log holds it, with what destinations report of its message.
public struct StoredEvent: Sendable, Hashable {
    public var position: EventPosition
    /// The row id: unique per store (the event's `eventId`).
    public var id: Int64
    public var event: DeliveryEvent
    /// The message's configuration set and campaign (nil for an engine event, or a
    /// message no longer stored).
    public var configurationSet: String?
    public var campaign: String?
    public var contentID: Int64?
    /// The message's tenant and its submitter's metadata (a JSON object of strings).
    public var tenant: String?
    public var metadata: [UInt8]?
    public init(position: EventPosition, id: Int64, event: DeliveryEvent, configurationSet: String?, campaign: String?, contentID: Int64?,
                tenant: String? = nil, metadata: [UInt8]? = nil) {
        self.tenant = tenant
        self.metadata = metadata
        self.position = position
        self.id = id
        self.event = event
        self.configurationSet = configurationSet
        self.campaign = campaign
        self.contentID = contentID
    }
}

/// Where a destination has got to, and the last error it met (cleared by the next success).
public struct DestinationCursor: Sendable, Hashable, Codable {
    /// `configurationSet/name`.
    public var name: String
    public var position: EventPosition
    public var lastError: String?
    public var lastErrorAt: Timestamp?
    public init(name: String, position: EventPosition, lastError: String? = nil, lastErrorAt: Timestamp? = nil) {
        self.name = name
        self.position = position
        self.lastError = lastError
        self.lastErrorAt = lastErrorAt
    }
}

/// What one retention batch removed.
public struct PurgeResult: Sendable, Hashable {
    public var messages: Int
    public var contents: Int
    public var events: Int
    public init(messages: Int = 0, contents: Int = 0, events: Int = 0) {
        self.messages = messages
        self.contents = contents
        self.events = events
    }
    public var total: Int { messages + contents + events }
}

/// The events one destination takes (`EventRelay.takes`): its kinds, of its
/// configuration set, or engine events that concern it (a pause of the account or of its
/// set, a pool scaling, other events tied to no message).
public struct OutboxFilter: Sendable, Hashable {
    public var kinds: [String]
    public var configurationSet: String

    public init(kinds: [String], configurationSet: String) {
        self.kinds = kinds.sorted()
        self.configurationSet = configurationSet
    }

    /// The condition on `e` (events), `c` (its message's content) and the parameters:
    /// the kinds as `kinds`, the set as `set` (SQL text with those names to be bound).
    public static func condition(kinds: String, set: String) -> String {
        """
        e.kind IN (\(kinds)) AND (c.config_set = \(set) OR (c.config_set IS NULL AND (
          (e.kind IN ('paused', 'resumed') AND (e.detail = '*' OR e.detail = \(set)))
          OR e.kind = 'poolScaled'
          OR (e.kind NOT IN ('paused', 'resumed', 'poolScaled') AND e.message_id IS NULL))))
        """
    }
}

extension MessageStore {
    /// How many events lie after `position` (at most `cap`).
    public func outboxCount(after position: EventPosition, cap: Int) async throws(KilnError) -> Int {
        try await outboxCount(after: position, cap: cap, taking: nil)
    }
}
