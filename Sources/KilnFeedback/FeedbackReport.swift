/// What a message that came back says: a bounce, a complaint, a delivery notice, an
/// auto-reply, or nothing Kiln understands.
public struct FeedbackReport: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Codable {
        case bounce, complaint, delivery
        case autoReply = "auto-reply"
        case unknown
    }

    public struct Recipient: Sendable, Hashable, Codable {
        /// The address the report is about: for a DSN, its `Original-Recipient` (the address
        /// as the sender gave it, so the one Kiln sent to) when that is a mailable address,
        /// else its `Final-Recipient`, else its `X-Actual-Recipient`.
        public var address: String
        /// A DSN's `Original-Recipient`, as written (its address type removed), when it has one.
        public var originalAddress: String?
        /// The enhanced status (RFC 3463), when the report has one.
        public var status: String?
        public var diagnostic: String?
        /// True only when the address itself is bad (does not exist, its domain does not
        /// exist or takes no mail, it moved): this decides suppression.
        public var permanent: Bool
        public var reason: String?
        public var replyCode: Int?
        /// RFC 3464 Action: failed, delayed, delivered, relayed, expanded.
        public var action: String?
        /// What decided the reason: `status:5.1.1`, `text:mailboxfull`, `definite-user`,
        /// `code:550`, `expired`, `fallback` (`@human-text` when read from the report's
        /// own words rather than the diagnostic); nil for complaints and auto-replies.
        public var rule: String?

        enum CodingKeys: String, CodingKey { case address, originalAddress, status, diagnostic, permanent, reason, replyCode, action, rule }

        /// Every key is written, absent values as null.
        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(address, forKey: .address)
            try container.encode(originalAddress, forKey: .originalAddress)
            try container.encode(status, forKey: .status)
            try container.encode(diagnostic, forKey: .diagnostic)
            try container.encode(permanent, forKey: .permanent)
            try container.encode(reason, forKey: .reason)
            try container.encode(replyCode, forKey: .replyCode)
            try container.encode(action, forKey: .action)
            try container.encode(rule, forKey: .rule)
        }

        public init(address: String, originalAddress: String? = nil, status: String? = nil, diagnostic: String? = nil, permanent: Bool = false,
                    reason: String? = nil, replyCode: Int? = nil, action: String? = nil, rule: String? = nil) {
            self.address = address
            self.originalAddress = originalAddress
            self.status = status
            self.diagnostic = diagnostic
            self.permanent = permanent
            self.reason = reason
            self.replyCode = replyCode
            self.action = action
            self.rule = rule
        }
    }

    public var type: Kind
    /// For complaints, the ARF Feedback-Type (abuse, opt-out, auth-failure, fraud, virus, not-spam, other).
    public var feedbackType: String?
    /// For bounces, the reason of the first recipient; for complaints, the feedback type.
    public var reason: String?
    /// For bounces, the rule that decided the first recipient's reason.
    public var rule: String?
    public var recipients: [Recipient]
    /// What ties the report to the message Kiln sent: the returned message's Message-ID,
    /// and the envelope sender (Kiln's traceable return path) when it came back.
    public var originalMessageID: String?
    public var originalReturnPath: String?
    /// The original message's Feedback-ID, which names the campaign.
    public var originalFeedbackID: String?

    enum CodingKeys: String, CodingKey {
        case type, feedbackType, reason, rule, recipients, originalMessageID, originalReturnPath, originalFeedbackID
    }

    /// Every key is written, absent values as null.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(type, forKey: .type)
        try container.encode(feedbackType, forKey: .feedbackType)
        try container.encode(reason, forKey: .reason)
        try container.encode(rule, forKey: .rule)
        try container.encode(recipients, forKey: .recipients)
        try container.encode(originalMessageID, forKey: .originalMessageID)
        try container.encode(originalReturnPath, forKey: .originalReturnPath)
        try container.encode(originalFeedbackID, forKey: .originalFeedbackID)
    }

    public init(type: Kind, feedbackType: String? = nil, reason: String? = nil, recipients: [Recipient] = [],
                originalMessageID: String? = nil, originalReturnPath: String? = nil, originalFeedbackID: String? = nil) {
        self.type = type
        self.feedbackType = feedbackType
        self.reason = reason
        self.recipients = recipients
        self.originalMessageID = originalMessageID
        self.originalReturnPath = originalReturnPath
        self.originalFeedbackID = originalFeedbackID
    }
}
