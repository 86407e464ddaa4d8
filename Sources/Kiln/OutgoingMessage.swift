import KilnCore
import KilnMessage

/// A message submitted to the engine: composed from parts, or raw RFC 5322 bytes.
public struct OutgoingMessage: Sendable {
    public enum Body: Sendable {
        /// Kiln composes the message (MIME, headers).
        case draft(MessageDraft)
        /// The caller's message, sent as is to every recipient (Kiln checks the From).
        case raw([UInt8])
        /// Rendered per recipient at send time with that recipient's variables.
        case template(MessageTemplate, variables: [[String: String]])
    }

    public var from: EmailAddress
    public var recipients: [EmailAddress]
    public var body: Body
    /// The configuration set (default: the configuration's `defaultConfigurationSet`).
    public var configurationSet: String?
    public var campaign: String?
    /// The tenant handing it over (default `default`): its reputation, pause and quota.
    public var tenant: String = "default"
    /// Per recipient (in `recipients` order), metadata given back in every event of that
    /// recipient's message; nil or shorter: none.
    public var metadata: [[String: String]]?
    /// Leased before bulk mail (nil: the configuration set's `transactional`).
    public var transactional: Bool?

    /// A composed message.
    public init(_ draft: MessageDraft, configurationSet: String? = nil, campaign: String? = nil) {
        self.from = draft.from
        self.recipients = draft.to
        self.body = .draft(draft)
        self.configurationSet = configurationSet
        self.campaign = campaign
    }

    /// A template for recipients, each with its variables.
    public init(template: MessageTemplate, recipients: [(address: EmailAddress, variables: [String: String])],
                configurationSet: String? = nil, campaign: String? = nil) throws(KilnError) {
        do { self.from = try EmailAddress(template.from) } catch {
            throw KilnError(.invalidAddress, "'\(template.from)' is not an email address", location: "template.from")
        }
        self.recipients = recipients.map(\.address)
        self.body = .template(template, variables: recipients.map(\.variables))
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
