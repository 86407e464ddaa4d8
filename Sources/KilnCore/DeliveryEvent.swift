/// The identifier of one queued message (one recipient of one submission).
public struct MessageID: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public var rawValue: Int64
    public init(_ rawValue: Int64) { self.rawValue = rawValue }
    public init(from decoder: any Decoder) throws { rawValue = try decoder.singleValueContainer().decode(Int64.self) }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
    public var description: String { String(rawValue) }
}

/// Something that happened to a message, or to the engine.
public struct DeliveryEvent: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        /// Accepted and stored.
        case accepted
        /// Handed to a receiving server.
        case send
        case delivery
        /// A permanent failure: the message will not be tried again.
        case bounce
        /// A temporary failure; the message waits for its next attempt.
        case deliveryDelay
        /// A throttle reply: the (IP, provider) pair slows down.
        case throttle
        /// A policy block: the (IP, provider) pair is suspended.
        case block
        /// Sent through the shared pool instead of a dedicated IP.
        case spillover
        /// Older than its maximum age: no further attempts.
        case expired
        /// Refused at submit (suppressed, not allowed).
        case reject
        case renderingFailure
        case complaint
        case unsubscribe
        case paused
        case resumed
        /// A managed pool took or released IPs.
        case poolScaled
        /// An outcome that came too late: its lease had expired and the message had been
        /// taken back (and perhaps leased again, by this node or another). The store kept
        /// the message as it was and recorded this instead of the outcome's own events;
        /// the detail names the lease holder and what it would have recorded.
        case staleOutcome
    }

    public var kind: Kind
    public var time: Timestamp
    public var messageID: MessageID?
    public var recipient: String?
    public var provider: MailboxProvider?
    /// How the attempt left: a dedicated source IP or the shared relay.
    public var via: SendingPath?
    public var reply: SMTPReply?
    public var detail: String?
    /// The receiving host that gave `reply` (`smtp://mx2.example.com:25 (192.0.2.7)`):
    /// for a delivery, the host that took the message.
    public var host: String?
    /// The reply's class and reason, as classified where it arrived.
    public var replyClass: ReplyClass?
    public var reason: ReplyReason?
    /// The attempt's number (1 for the first), for an attempt's event.
    public var attempt: Int?

    public init(kind: Kind, time: Timestamp, messageID: MessageID? = nil, recipient: String? = nil, provider: MailboxProvider? = nil, via: SendingPath? = nil, reply: SMTPReply? = nil, detail: String? = nil,
                host: String? = nil, replyClass: ReplyClass? = nil, reason: ReplyReason? = nil, attempt: Int? = nil) {
        self.host = host
        self.attempt = attempt
        self.replyClass = replyClass
        self.reason = reason
        self.kind = kind
        self.time = time
        self.messageID = messageID
        self.recipient = recipient
        self.provider = provider
        self.via = via
        self.reply = reply
        self.detail = detail
    }
}
