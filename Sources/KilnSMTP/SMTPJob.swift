import KilnCore

/// One place to deliver to: a URL, and the address to connect to when the caller has
/// resolved its host (an MX host through `delivery.nameservers`); nil lets curl resolve it.
/// TLS names and verifies the URL's host either way.
public struct SMTPHop: Sendable, Hashable, CustomStringConvertible {
    public var url: SMTPURL
    public var address: String?
    public init(url: SMTPURL, address: String? = nil) {
        self.url = url
        self.address = address
    }
    public var description: String {
        guard let address, address != url.host else { return url.description }
        return "\(url) (\(address))"
    }
}

/// One message to one recipient, to be sent over SMTP.
public struct SMTPJob: Sendable {
    /// Returned with the result, for the caller to match.
    public var id: MessageID
    public var destination: SMTPURL
    /// The address to connect to for `destination` (nil: curl resolves its host).
    public var address: String?
    /// Where to go next, in order, within this attempt, when `destination` fails before
    /// the transaction starts: no connection, a time-out, or a 4xx/5xx at the greeting,
    /// EHLO or STARTTLS. A reply to MAIL, RCPT or DATA is the receiver's answer and ends
    /// the attempt.
    public var fallbacks: [SMTPHop] = []
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
    public var tls: TLSPolicy
    /// The recipient's provider, for provider-specific reply rules; nil when not known.
    public var provider: MailboxProvider?
    /// Check the receiver's certificate (chain and host name) for STARTTLS and smtps.
    public var verifyTLS = false
    /// A job of a higher priority (transactional mail) starts before the lower-priority
    /// jobs waiting on its lane.
    public var priority: Int

    public init(id: MessageID, destination: SMTPURL, sourceIP: String?, mailFrom: String, recipient: String, body: [UInt8],
                maxConnections: Int = 10, messagesPerConnection: Int = 100, credentials: SMTPCredentials? = nil,
                tls: TLSPolicy = .opportunistic, provider: MailboxProvider? = nil, priority: Int = 0) {
        self.priority = priority
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

extension SMTPResult {
    /// The host that gave the reply, for events: `smtp://mx2.example.com:25 (192.0.2.7)`.
    public var host: SMTPHop { SMTPHop(url: destination, address: address) }
}

extension SMTPJob {
    /// Every place this job may go, in order: the destination, then the fallbacks.
    public var hops: [SMTPHop] { [SMTPHop(url: destination, address: address)] + fallbacks }

    /// A job for `hops` (at least one).
    public mutating func route(to hops: [SMTPHop]) {
        guard let first = hops.first else { return }
        destination = first.url
        address = first.address
        fallbacks = Array(hops.dropFirst())
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

/// What became of a job, as it happened: the reply, the curl result, the host. What the
/// reply means is the Dispatcher's to read (`ReplyReader`), not the transport's.
public struct SMTPResult: Sendable {
    public var id: MessageID
    /// The server's reply that ended the transaction (or a local one for a failed
    /// connection). nil when the job was never started (the transport shut down first, or
    /// its lane was withdrawn or held).
    public var reply: SMTPReply?
    /// The job's provider (`SMTPJob.provider`), for reading the reply.
    public var provider: MailboxProvider?
    /// The curl result of the transfer (`CURLcode`, 0 for success); nil when no transfer
    /// ran (refused before a socket, or never started).
    public var curlCode: Int?
    /// The message's place on its connection (1 for the first), when it went over one.
    public var messagesOnConnection: Int?
    public var sourceIP: String?
    /// The host that gave the reply (the last one tried), and the address connected to.
    public var destination: SMTPURL
    public var address: String?
    /// The hosts tried before it in this attempt, and why each was passed over.
    public var passedOver: [String] = []
    /// How long the transfer took, from its start on a connection (or the connection's
    /// opening) to the reply; nil for a job that never started.
    public var duration: Duration?

    public init(id: MessageID, reply: SMTPReply?, sourceIP: String?, destination: SMTPURL, provider: MailboxProvider? = nil) {
        self.id = id
        self.reply = reply
        self.sourceIP = sourceIP
        self.destination = destination
        self.provider = provider
    }

    /// The result of `job` with `reply` (nil: unsent), from the host it was sent to.
    public init(_ job: SMTPJob, reply: SMTPReply?) {
        self.init(id: job.id, reply: reply, sourceIP: job.sourceIP, destination: job.destination, provider: job.provider)
        address = job.address
    }
}
