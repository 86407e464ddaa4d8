import KilnCore

/// Who is handing Kiln mail through the front door: a tenant, through one of its
/// credentials or from one of the trusted networks.
public struct Principal: Sendable, Hashable {
    public var tenant: String
    /// The credential's name; nil for a client of a trusted network.
    public var credential: String?
    public init(tenant: String, credential: String?) {
        self.tenant = tenant
        self.credential = credential
    }
}

/// Why the front door refuses a login, a sender or a message: one value, with its SMTP
/// reply (RFC 5321, enhanced status per RFC 3463 and RFC 4954) and its HTTP status.
public struct SubmissionRefusal: Error, Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        /// AUTH before STARTTLS: `538 5.7.11`.
        case tlsRequired
        /// Relay without AUTH from outside the trusted networks: `530 5.7.0` / 401.
        case authenticationRequired
        /// A wrong name or secret, or a revoked credential: `535 5.7.8` / 401.
        case badCredentials
        /// The credential may not be used from this address: `535 5.7.8` / 403.
        case forbiddenSource
        /// Too many failed logins from this address: `454 4.7.0` / 429, for `retryAfter` seconds.
        case lockedOut(retryAfter: Int)
        /// A MAIL FROM, header From or configuration set the principal may not use: `550 5.7.1` / 403.
        case forbiddenSender
        /// Over the size limit: `552 5.3.4` / 413.
        case tooBig
        /// Over the recipient limit: `452 4.5.3` / 413.
        case tooManyRecipients
        /// The tenant is over its quota: `451 4.7.1` / 429 with `Retry-After`.
        case overQuota(retryAfter: Int)
        /// The message itself is wrong (no From header, a bad address...): `550 5.6.0` / 400;
        /// `path` names the JSON field for the HTTP API.
        case invalid(path: String?)
        /// The store cannot take it now (failing, full): `451 4.3.0` / 503. Nothing was kept.
        case unavailable
    }

    public var kind: Kind
    /// Plain words, safe to show the client (never a secret).
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    /// The SMTP reply code.
    public var smtpCode: Int {
        switch kind {
        case .tlsRequired: 538
        case .authenticationRequired: 530
        case .badCredentials, .forbiddenSource: 535
        case .lockedOut: 454
        case .forbiddenSender, .invalid: 550
        case .tooBig: 552
        case .tooManyRecipients: 452
        case .overQuota, .unavailable: 451
        }
    }

    /// The enhanced status code (RFC 3463).
    public var enhancedStatus: String {
        switch kind {
        case .tlsRequired: "5.7.11"
        case .authenticationRequired: "5.7.0"
        case .badCredentials, .forbiddenSource: "5.7.8"
        case .lockedOut: "4.7.0"
        case .forbiddenSender: "5.7.1"
        case .tooBig: "5.3.4"
        case .tooManyRecipients: "4.5.3"
        case .overQuota: "4.7.1"
        case .invalid: "5.6.0"
        case .unavailable: "4.3.0"
        }
    }

    /// The whole reply line, without CRLF: `550 5.7.1 <message>`.
    public var smtpReply: String { "\(smtpCode) \(enhancedStatus) \(message)" }

    /// The HTTP status of the injection API.
    public var httpStatus: Int {
        switch kind {
        case .authenticationRequired, .badCredentials: 401
        case .tlsRequired, .forbiddenSource, .forbiddenSender: 403
        case .lockedOut, .overQuota: 429
        case .tooBig, .tooManyRecipients: 413
        case .invalid: 400
        case .unavailable: 503
        }
    }

    /// Seconds for `Retry-After`, when waiting helps.
    public var retryAfter: Int? {
        switch kind {
        case .lockedOut(let seconds), .overQuota(let seconds): seconds
        case .unavailable: 5
        default: nil
        }
    }
}

/// A message of the HTTP injection API (`POST /v1/messages`), decoded and checked by
/// the endpoint; the gate authorizes, renders and queues it.
public struct APIMessage: Sendable, Hashable {
    public struct Recipient: Sendable, Hashable {
        public var email: String
        public var name: String?
        /// Template variables for this recipient.
        public var substitutions: [String: String]
        /// Comes back in every event of this recipient's message.
        public var metadata: [String: String]
        public init(email: String, name: String? = nil, substitutions: [String: String] = [:], metadata: [String: String] = [:]) {
            self.email = email
            self.name = name
            self.substitutions = substitutions
            self.metadata = metadata
        }
    }
    public enum Content: Sendable, Hashable {
        /// Mustache templates rendered per recipient (subject, text and/or html).
        case template(subject: String, text: String?, html: String?)
        /// An RFC 5322 message (already base64-decoded), sent as is to every recipient.
        case raw([UInt8])
    }
    public var from: String?
    public var fromName: String?
    public var configurationSet: String?
    public var transactional: Bool
    public var content: Content
    /// Extra headers (name, value).
    public var headers: [String: String]
    public var tags: [String]
    public var recipients: [Recipient]

    public init(from: String?, fromName: String? = nil, configurationSet: String? = nil, transactional: Bool = false, content: Content,
                headers: [String: String] = [:], tags: [String] = [], recipients: [Recipient]) {
        self.from = from
        self.fromName = fromName
        self.configurationSet = configurationSet
        self.transactional = transactional
        self.content = content
        self.headers = headers
        self.tags = tags
        self.recipients = recipients
    }
}

/// What `POST /v1/messages` answers with 200.
public struct APIAcceptance: Sendable, Hashable, Codable {
    public struct Accepted: Sendable, Hashable, Codable {
        public var email: String
        public var messageId: String
        public init(email: String, messageId: String) {
            self.email = email
            self.messageId = messageId
        }
    }
    public struct Rejected: Sendable, Hashable, Codable {
        public var email: String
        public var reason: String
        public init(email: String, reason: String) {
            self.email = email
            self.reason = reason
        }
    }
    public var accepted: Int
    public var messages: [Accepted]
    public var rejected: [Rejected]
    public init(accepted: Int, messages: [Accepted], rejected: [Rejected]) {
        self.accepted = accepted
        self.messages = messages
        self.rejected = rejected
    }
}

/// What `GET /v1/messages/{id}` answers: the message's state, attempts and events.
public struct APIMessageStatus: Sendable, Hashable, Codable {
    public struct Event: Sendable, Hashable, Codable {
        public var time: String
        public var kind: String
        public var detail: String?
        public var code: Int?
        public var status: String?
        public var text: String?
        public init(time: String, kind: String, detail: String? = nil, code: Int? = nil, status: String? = nil, text: String? = nil) {
            self.time = time
            self.kind = kind
            self.detail = detail
            self.code = code
            self.status = status
            self.text = text
        }
    }
    public var messageId: String
    public var email: String
    public var tenant: String
    public var state: String
    public var attempts: Int
    public var metadata: [String: String]
    public var events: [Event]
    public init(messageId: String, email: String, tenant: String, state: String, attempts: Int, metadata: [String: String], events: [Event]) {
        self.messageId = messageId
        self.email = email
        self.tenant = tenant
        self.state = state
        self.attempts = attempts
        self.metadata = metadata
        self.events = events
    }
}

/// What the SMTP listener and the HTTP API ask of the rest of Kiln. `SubmissionGate` is
/// the real one (credentials in the store, tenants, quotas, the engine); tests use fakes.
public protocol SubmissionBackend: Sendable {
    /// The principal of a client connecting from `peer` (an IP address, no port) when it
    /// is inside a trusted network: it may relay without AUTH.
    func trustedPrincipal(peer: String) -> Principal?
    /// Checks a credential's name and secret for a client at `peer`. Repeated failures
    /// from one address are slowed (this call may wait) and then locked out.
    func authenticate(name: String, secret: String, peer: String) async -> Result<Principal, SubmissionRefusal>
    /// Whether `principal` may use `address` as the envelope sender (MAIL FROM); nil: yes.
    func checkEnvelopeSender(_ address: String, principal: Principal) -> SubmissionRefusal?
    /// Authorizes (header From, `X-Kiln-Configuration-Set`, quota), completes (strips
    /// `X-Kiln-*`, adds Message-ID and Date when missing) and durably stores a message
    /// received over SMTP; returns one id per recipient once the store has committed.
    func submit(raw: [UInt8], mailFrom: String, recipients: [String], principal: Principal) async -> Result<[MessageID], SubmissionRefusal>
    /// Authorizes, renders and durably stores an API message (per-recipient problems are
    /// `rejected` lines, not a refusal).
    func submit(message: APIMessage, principal: Principal) async -> Result<APIAcceptance, SubmissionRefusal>
    /// A message's state, attempts and events; nil when there is none, or it is another
    /// tenant's.
    func status(of id: MessageID, principal: Principal) async -> Result<APIMessageStatus?, SubmissionRefusal>
}
