import KilnCore

/// One message to one recipient, to be sent over SMTP.
public struct SMTPJob: Sendable {
    /// Returned with the result, for the caller to match.
    public var id: MessageID
    public var destination: SMTPURL
    /// The source address to bind (`CURLOPT_INTERFACE`), nil for the system's choice.
    public var sourceIP: String?
    /// The envelope sender (`MAIL FROM`), without angle brackets; empty for the null sender.
    public var mailFrom: String
    public var recipient: String
    /// The RFC 5322 message with CRLF line ends.
    public var body: [UInt8]
    /// Connections at once to this destination from this source address.
    public var maxConnections: Int
    /// Messages on one connection before it is closed.
    public var messagesPerConnection: Int
    public var credentials: SMTPCredentials?
    public var tls: Configuration.TLSPolicy
    /// The recipient's provider, for provider-specific reply rules; nil when not known.
    public var provider: MailboxProvider?

    public init(id: MessageID, destination: SMTPURL, sourceIP: String?, mailFrom: String, recipient: String, body: [UInt8],
                maxConnections: Int = 10, messagesPerConnection: Int = 100, credentials: SMTPCredentials? = nil,
                tls: Configuration.TLSPolicy = .opportunistic, provider: MailboxProvider? = nil) {
        self.id = id
        self.destination = destination
        self.sourceIP = sourceIP
        self.mailFrom = mailFrom
        self.recipient = recipient
        self.body = body
        self.maxConnections = maxConnections
        self.messagesPerConnection = messagesPerConnection
        self.credentials = credentials
        self.tls = tls
        self.provider = provider
    }
}

/// AUTH credentials for a relay. Never logged: its description hides the password.
public struct SMTPCredentials: Sendable, Hashable, CustomStringConvertible {
    public var username: String
    public var password: String
    public init(username: String, password: String) {
        self.username = username
        self.password = password
    }
    public var description: String { "SMTPCredentials(username: \(username), password: <redacted>)" }
}

/// What became of a job.
public struct SMTPResult: Sendable {
    public var id: MessageID
    /// The server's reply that ended the transaction (or a local one for a failed
    /// connection). nil when the job was never started (the transport shut down first).
    public var reply: SMTPReply?
    /// The reply's classification, made once where the reply arrived (success for a job
    /// never started: nothing to react to).
    public var classification: ReplyClassification
    public var sourceIP: String?
    public var destination: SMTPURL

    public init(id: MessageID, reply: SMTPReply?, sourceIP: String?, destination: SMTPURL) {
        self.init(id: id, reply: reply, classification: reply?.classification ?? ReplyClassification(.success, scope: .message),
                  sourceIP: sourceIP, destination: destination)
    }

    public init(id: MessageID, reply: SMTPReply?, classification: ReplyClassification, sourceIP: String?, destination: SMTPURL) {
        self.id = id
        self.reply = reply
        self.classification = classification
        self.sourceIP = sourceIP
        self.destination = destination
    }
}
