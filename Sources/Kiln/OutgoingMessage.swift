import KilnCore
import KilnMessage

/// A message submitted to the engine: composed from parts, or raw RFC 5322 bytes.
public struct OutgoingMessage: Sendable {
    public enum Body: Sendable {
        /// Kiln composes the message (MIME, headers).
        case draft(MessageDraft)
        /// The caller's message, sent as is to every recipient (Kiln checks the From).
        case raw([UInt8])
    }

    public var from: EmailAddress
    public var recipients: [EmailAddress]
    public var body: Body
    /// The configuration set (default: the configuration's `defaultConfigurationSet`).
    public var configurationSet: String?
    public var campaign: String?

    /// A composed message.
    public init(_ draft: MessageDraft, configurationSet: String? = nil, campaign: String? = nil) {
        self.from = draft.from
        self.recipients = draft.to
        self.body = .draft(draft)
        self.configurationSet = configurationSet
        self.campaign = campaign
    }

    /// A raw message for the given envelope recipients.
    public init(raw: [UInt8], from: EmailAddress, recipients: [EmailAddress], configurationSet: String? = nil, campaign: String? = nil) {
        self.from = from
        self.recipients = recipients
        self.body = .raw(raw)
        self.configurationSet = configurationSet
        self.campaign = campaign
    }
}
