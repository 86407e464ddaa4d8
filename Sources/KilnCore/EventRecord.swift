/// One event as destinations receive it (webhook bodies, JSON lines): the documented
/// schema. Fields that do not apply to a kind are absent.
///
/// | field | meaning |
/// |---|---|
/// | `eventId` | unique per store; the same event sent twice has the same id (de-duplicate on it) |
/// | `eventType` | `DeliveryEvent.Kind` (`accepted`, `send`, `delivery`, `bounce`, ...) |
/// | `timestamp` | RFC 3339, UTC, milliseconds: `2026-12-02T08:15:30.123Z` |
/// | `route` | `dedicated` or `shared` (the relay) for an attempt |
/// | `ip` | the source IP, or `shared` |
/// | `smtpReply` | `code`, `enhancedStatus`, `text` of the reply |
/// | `class`, `reason` | the reply's class (`success`, `throttle`, `temporary`, `permanent-user`, ...) and reason |
/// | `attempt` | the attempt's number (1 for the first) |
public struct EventRecord: Codable, Sendable, Hashable {
    public struct Reply: Codable, Sendable, Hashable {
        public var code: Int
        public var enhancedStatus: String?
        public var text: String
    }

    public var eventId: String
    public var eventType: String
    public var timestamp: String
    public var messageId: String?
    public var recipient: String?
    public var configurationSet: String?
    public var campaign: String?
    public var tags: [String]?
    public var provider: String?
    public var ip: String?
    public var route: String?
    public var smtpReply: Reply?
    public var `class`: String?
    public var reason: String?
    public var attempt: Int?
    /// Free text: the scope of a pause, why a message could not be rendered, ...
    public var detail: String?
    /// The tenant that submitted the message, and the metadata it gave with it.
    public var tenant: String?
    public var metadata: [String: String]?

    /// - Parameters:
    ///   - id: the event's row id in the store.
    ///   - attempt: the message's attempts counted so far, for an attempt's event.
    public init(id: Int64, event e: DeliveryEvent, configurationSet: String?, campaign: String?, tags: [String]?, attempt: Int?,
                tenant: String? = nil, metadata: [String: String]? = nil) {
        self.tenant = tenant
        self.metadata = metadata
        eventId = String(id)
        eventType = e.kind.rawValue
        timestamp = Self.rfc3339(e.time)
        messageId = e.messageID.map(\.description)
        recipient = e.recipient
        self.configurationSet = configurationSet
        self.campaign = campaign
        self.tags = tags
        provider = e.provider?.id
        ip = e.via?.description
        route = e.via.map { $0 == .shared ? "shared" : "dedicated" }
        smtpReply = e.reply.map { Reply(code: $0.code, enhancedStatus: $0.enhancedStatus, text: $0.text) }
        self.class = e.replyClass?.rawValue
        reason = e.reason?.rawValue
        self.attempt = attempt
        detail = e.detail
    }

    /// `YYYY-MM-DDTHH:MM:SS.mmmZ` (RFC 3339, UTC, milliseconds; days from the civil
    /// calendar algorithm of H. Hinnant).
    public static func rfc3339(_ time: Timestamp) -> String {
        let millis = time.nanoseconds >= 0 ? time.nanoseconds / 1_000_000 : (time.nanoseconds - 999_999) / 1_000_000
        var days = millis >= 0 ? millis / 86_400_000 : (millis - 86_399_999) / 86_400_000
        let ofDay = millis - days * 86_400_000
        days += 719_468
        let era = (days >= 0 ? days : days - 146_096) / 146_097
        let dayOfEra = days - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        func pad(_ value: Int64, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(ofDay / 3_600_000, 2)):\(pad(ofDay / 60_000 % 60, 2)):"
            + "\(pad(ofDay / 1_000 % 60, 2)).\(pad(ofDay % 1_000, 3))Z"
    }
}

/// How long a destination waits before trying again after `failures` failures in a row:
/// doubling from `base`, at most `cap`, with up to a quarter taken off at random so that
/// many destinations do not retry in step.
///
/// | failures | base 1 s, cap 60 s |
/// |---|---|
/// | 1 | 0.75–1 s |
/// | 3 | 3–4 s |
/// | 7 and more | 45–60 s |
public struct RetryBackoff: Sendable, Hashable {
    public var base: Duration
    public var cap: Duration
    public init(base: Duration = .seconds(1), cap: Duration = .seconds(60)) {
        self.base = base
        self.cap = cap
    }

    public func delay(afterFailures failures: Int, using rng: inout some RandomNumberGenerator) -> Duration {
        guard failures > 0 else { return .zero }
        let doubled = base.nanoseconds.multipliedReportingOverflow(by: Int64(1) << Int64(min(failures - 1, 40)))
        let full = doubled.overflow ? cap.nanoseconds : min(cap.nanoseconds, doubled.partialValue)
        let jitter = Int64.random(in: 0...(full / 4), using: &rng)
        return .nanoseconds(full - jitter)
    }
}
