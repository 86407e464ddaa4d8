import KilnCore
import NIOCore

/// One SMTP submission session (RFC 5321, RFC 6409) as a state machine without I/O: it
/// takes the client's lines and the backend's answers, and returns what to do. The NIO
/// handler (`SubmissionSessionHandler`) carries the actions out, one at a time, in order.
///
/// | input | state | action |
/// |---|---|---|
/// | EHLO / HELO | any | `250` with the extensions; the transaction is reset |
/// | STARTTLS | TLS offered, not active | `startTLS(220)`; `tlsStarted()` when the TLS handler is in place forgets the session (RFC 3207 §4.2) |
/// | AUTH | not over TLS | `538 5.7.11` |
/// | AUTH PLAIN / LOGIN | over TLS, after EHLO | `334` prompts, then `authenticate` |
/// | MAIL | not authenticated, peer not trusted | `530 5.7.0` |
/// | MAIL | authenticated or trusted | `checkSender`, then `250 2.1.0` or the refusal |
/// | RCPT | after MAIL, under the limit | `250 2.1.5`; over it `452 4.5.3` |
/// | DATA | with recipients | `354`, data lines, then `submit` or `messageRefused(552 / 500)` |
/// | any 5xx to a command | `maxErrors` reached | `close` with `421 4.7.0` |
struct SubmissionSession {
    struct Limits {
        var hostname: String
        var maxMessageBytes: Int
        var maxRecipients: Int
        var maxHeaderBytes: Int
        var maxCommandLineLength: Int
        var maxErrors: Int
        /// Whether STARTTLS can be offered (a certificate is configured).
        var offersTLS: Bool
    }

    /// A message received whole, for the backend.
    struct Submission: Equatable {
        var raw: [UInt8]
        var mailFrom: String
        var recipients: [String]
        var principal: Principal
    }

    enum Action: Equatable {
        /// Write the reply and go on.
        case reply(SMTPReply)
        /// Write the replies and close the connection.
        case close([SMTPReply])
        /// Write the reply in clear, then put TLS at the front and drop every byte the
        /// client sent after the command.
        case startTLS(SMTPReply)
        /// Ask the backend about the envelope sender; answer with `senderChecked`.
        case checkSender(address: String, principal: Principal)
        /// Ask the backend about a login; answer with `authenticationFinished`.
        case authenticate(name: String, secret: String)
        /// Hand the message to the backend; answer with `submissionFinished`.
        case submit(Submission)
        /// The message was refused here (too big, a header block too big, a line too long).
        case messageRefused(SMTPReply)
        /// A line of message data, kept: nothing to write.
        case receivingData
    }

    enum Phase: Equatable {
        case command
        case authPlainResponse
        case authLoginName
        case authLoginSecret(name: String)
        case data
    }

    struct Transaction {
        var mailFrom: String
        var principal: Principal
        var recipients: [String] = []
    }

    /// The message between DATA and the final dot.
    struct Incoming {
        var bytes: [UInt8] = []
        /// Octets received, kept or not.
        var size = 0
        var headerBytes = 0
        var inHeader = true
        var lineTooLong = false
    }

    let limits: Limits
    /// The principal of the client's network when it is trusted (it may relay without AUTH).
    let trusted: Principal?
    var phase = Phase.command
    var tlsActive: Bool
    var greeted = false
    var authenticated: Principal?
    var transaction: Transaction?
    var errors = 0
    var incoming = Incoming()

    init(limits: Limits, trusted: Principal?, tlsActive: Bool = false) {
        self.limits = limits
        self.trusted = trusted
        self.tlsActive = tlsActive
    }

    var greeting: SMTPReply { SMTPReply(code: 220, text: "\(limits.hostname) ESMTP Kiln") }
    var timeoutReply: SMTPReply { SMTPReply(code: 421, enhancedStatus: "4.4.2", text: "\(limits.hostname) timeout") }
    var shutdownReply: SMTPReply { SMTPReply(code: 421, enhancedStatus: "4.3.2", text: "\(limits.hostname) Service shutting down") }

    /// Between transactions, waiting for a command: a session may be closed here without
    /// losing a message.
    var isIdle: Bool { phase == .command && transaction == nil }
    var isReceivingData: Bool { phase == .data }

    mutating func receive(_ input: SubmissionLine) -> Action {
        switch phase {
        case .data:
            return receiveData(input)
        case .authPlainResponse, .authLoginName, .authLoginSecret:
            return continueAuthentication(input)
        case .command:
            guard case .line(let line) = input, line.readableBytes <= limits.maxCommandLineLength else {
                return refuse(500, "5.5.6", "Line too long")
            }
            return command(String(decoding: line.readableBytesView, as: UTF8.self))
        }
    }

    mutating func command(_ text: String) -> Action {
        let verbEnd = text.firstIndex(of: " ") ?? text.endIndex
        let argument = text[verbEnd...].drop(while: { $0 == " " })
        switch text[..<verbEnd].uppercased() {
        case "EHLO": return hello(argument, extended: true)
        case "HELO": return hello(argument, extended: false)
        case "STARTTLS": return startTLS(argument)
        case "AUTH": return authenticate(argument)
        case "MAIL": return mail(argument)
        case "RCPT": return recipient(argument)
        case "DATA": return data(argument)
        case "RSET":
            transaction = nil
            return .reply(SMTPReply(code: 250, enhancedStatus: "2.0.0", text: "Ok"))
        case "NOOP": return .reply(SMTPReply(code: 250, enhancedStatus: "2.0.0", text: "Ok"))
        case "QUIT": return .close([SMTPReply(code: 221, enhancedStatus: "2.0.0", text: "Bye")])
        case "VRFY": return .reply(SMTPReply(code: 252, enhancedStatus: "2.5.0", text: "Cannot VRFY user, but will accept message and attempt delivery"))
        case "EXPN": return refuse(502, "5.5.1", "Command not implemented")
        case "HELP": return .reply(SMTPReply(code: 214, enhancedStatus: "2.0.0", text: "See RFC 5321"))
        default: return refuse(500, "5.5.2", "Command not recognized")
        }
    }

    mutating func hello(_ argument: Substring, extended: Bool) -> Action {
        guard !argument.isEmpty else { return refuse(501, "5.5.4", "Syntax: \(extended ? "EHLO" : "HELO") hostname") }
        greeted = true
        transaction = nil
        guard extended else { return .reply(SMTPReply(code: 250, text: limits.hostname)) }
        var lines = [limits.hostname, "PIPELINING", "SIZE \(limits.maxMessageBytes)", "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES"]
        if limits.offersTLS, !tlsActive { lines.append("STARTTLS") }
        if tlsActive { lines.append("AUTH PLAIN LOGIN") }
        return .reply(SMTPReply(code: 250, text: lines.joined(separator: "\n")))
    }

    mutating func startTLS(_ argument: Substring) -> Action {
        guard limits.offersTLS else { return refuse(502, "5.5.1", "STARTTLS not available") }
        guard !tlsActive else { return refuse(503, "5.5.1", "TLS already active") }
        guard argument.isEmpty else { return refuse(501, "5.5.4", "Syntax: STARTTLS") }
        return .startTLS(SMTPReply(code: 220, enhancedStatus: "2.0.0", text: "Ready to start TLS"))
    }

    /// TLS is up: the session starts over, knowing nothing the client said before
    /// (RFC 3207 §4.2); the client says EHLO again.
    mutating func tlsStarted() {
        tlsActive = true
        greeted = false
        authenticated = nil
        transaction = nil
        phase = .command
    }

    mutating func mail(_ argument: Substring) -> Action {
        guard greeted else { return refuse(503, "5.5.1", "Send EHLO first") }
        guard transaction == nil else { return refuse(503, "5.5.1", "Nested MAIL command") }
        guard let principal = authenticated ?? trusted else {
            return refuse(SubmissionRefusal(.authenticationRequired, "Authentication required"))
        }
        guard let (path, parameters) = Self.reversePath(argument, keyword: "FROM:") else {
            return refuse(501, "5.5.4", "Syntax: MAIL FROM:<address>")
        }
        guard let address = path.isEmpty ? "" : Self.mailbox(path) else { return refuse(501, "5.1.7", "Bad sender address syntax") }
        for parameter in parameters {
            let (key, value) = Self.split(parameter)
            switch (key, value) {
            case ("SIZE", let value?):
                guard let size = Int(value), size >= 0 else { return refuse(501, "5.5.4", "Bad SIZE parameter") }
                guard size <= limits.maxMessageBytes else { return refuse(552, "5.3.4", "Message size exceeds fixed maximum message size") }
            case ("BODY", let value?):
                guard ["7BIT", "8BITMIME"].contains(value.uppercased()) else { return refuse(501, "5.5.4", "Bad BODY parameter") }
            case ("SMTPUTF8", nil), ("AUTH", _):
                // AUTH=<identity> (RFC 4954 §5) only matters between trusting relays: ignored.
                continue
            default:
                return refuse(555, "5.5.4", "Unsupported parameter \(key.escapingControlCharacters)")
            }
        }
        return .checkSender(address: address, principal: principal)
    }

    mutating func senderChecked(address: String, principal: Principal, refusal: SubmissionRefusal?) -> Action {
        if let refusal { return refuse(refusal) }
        transaction = Transaction(mailFrom: address, principal: principal)
        return .reply(SMTPReply(code: 250, enhancedStatus: "2.1.0", text: "Ok"))
    }

    mutating func recipient(_ argument: Substring) -> Action {
        guard transaction != nil else { return refuse(503, "5.5.1", "Need MAIL command") }
        guard let (path, parameters) = Self.reversePath(argument, keyword: "TO:") else {
            return refuse(501, "5.5.4", "Syntax: RCPT TO:<address>")
        }
        guard let address = Self.mailbox(path) else { return refuse(501, "5.1.3", "Bad recipient address syntax") }
        guard parameters.isEmpty else { return refuse(555, "5.5.4", "Unsupported parameter \(parameters[0].escapingControlCharacters)") }
        if transaction?.recipients.contains(address) == true {
            return .reply(SMTPReply(code: 250, enhancedStatus: "2.1.5", text: "Ok"))
        }
        guard transaction!.recipients.count < limits.maxRecipients else {
            return .reply(SubmissionRefusal(.tooManyRecipients, "Too many recipients").sessionReply)
        }
        transaction!.recipients.append(address)
        return .reply(SMTPReply(code: 250, enhancedStatus: "2.1.5", text: "Ok"))
    }

    mutating func data(_ argument: Substring) -> Action {
        guard let transaction else { return refuse(503, "5.5.1", "Need MAIL command") }
        guard !transaction.recipients.isEmpty else { return refuse(554, "5.5.1", "No valid recipients") }
        guard argument.isEmpty else { return refuse(501, "5.5.4", "Syntax: DATA") }
        phase = .data
        incoming = Incoming()
        return .reply(SMTPReply(code: 354, text: "End data with <CR><LF>.<CR><LF>"))
    }

    /// A line between DATA and the final dot: dot-unstuffed (RFC 5321 §4.5.2) and kept
    /// while the message is within its limits; past them it is counted and dropped, and the
    /// message is refused at its end (the client is not cut off mid-message).
    mutating func receiveData(_ input: SubmissionLine) -> Action {
        switch input {
        case .tooLong:
            incoming.lineTooLong = true
            incoming.bytes = []
            return .receivingData
        case .dataLines(let block):
            // Complete lines, none the final dot (the decoder stops before it).
            let view = block.readableBytesView
            var start = view.startIndex
            while let newline = view[start...].firstIndex(of: UInt8(ascii: "\n")) {
                var end = newline
                if end > start, view[end - 1] == UInt8(ascii: "\r") { end -= 1 }
                let line = view[start..<end]
                start = newline + 1
                keep(line.first == UInt8(ascii: ".") ? line.dropFirst() : line)
            }
            return .receivingData
        case .line(let line):
            var bytes = line.readableBytesView[...]
            if bytes.first == UInt8(ascii: ".") {
                if bytes.count == 1 { return finishData() }
                bytes = bytes.dropFirst()
            }
            keep(bytes)
            return .receivingData
        }
    }

    /// One dot-unstuffed line of DATA: counted, and kept while the message is within its limits.
    mutating func keep(_ bytes: ByteBufferView.SubSequence) {
        incoming.size += bytes.count + 2
        if incoming.inHeader {
            if bytes.isEmpty { incoming.inHeader = false } else { incoming.headerBytes += bytes.count + 2 }
        }
        if incoming.size <= limits.maxMessageBytes, incoming.headerBytes <= limits.maxHeaderBytes, !incoming.lineTooLong {
            incoming.bytes.append(contentsOf: bytes)
            incoming.bytes.append(contentsOf: [13, 10])
        } else if !incoming.bytes.isEmpty {
            incoming.bytes = []
        }
    }

    mutating func finishData() -> Action {
        phase = .command
        let message = incoming
        incoming = Incoming()
        guard let transaction else { return .messageRefused(SMTPReply(code: 503, enhancedStatus: "5.5.1", text: "Need MAIL command")) }
        self.transaction = nil
        if message.size > limits.maxMessageBytes { return .messageRefused(SubmissionRefusal(.tooBig, "Message too big").sessionReply) }
        if message.headerBytes > limits.maxHeaderBytes { return .messageRefused(SubmissionRefusal(.tooBig, "Header block too big").sessionReply) }
        if message.lineTooLong { return .messageRefused(SMTPReply(code: 500, enhancedStatus: "5.5.6", text: "Line too long")) }
        return .submit(Submission(raw: message.bytes, mailFrom: transaction.mailFrom, recipients: transaction.recipients, principal: transaction.principal))
    }

    /// The backend's answer to `submit`: `250` only once it has stored the message.
    func submissionFinished(_ result: Result<[MessageID], SubmissionRefusal>) -> SMTPReply {
        switch result {
        case .success(let ids):
            let count = ids.count > 1 ? " (\(ids.count) recipients)" : ""
            let first = ids.first.map { " as \($0.rawValue)" } ?? ""
            return SMTPReply(code: 250, enhancedStatus: "2.0.0", text: "Ok: queued\(first)\(count)")
        case .failure(let refusal):
            return refusal.sessionReply
        }
    }

    mutating func refuse(_ refusal: SubmissionRefusal) -> Action { refuse(refusal.sessionReply) }

    mutating func refuse(_ code: Int, _ status: String, _ text: String) -> Action {
        refuse(SMTPReply(code: code, enhancedStatus: status, text: text))
    }

    /// A negative reply to a command; the `maxErrors`th 5xx ends the session.
    mutating func refuse(_ reply: SMTPReply) -> Action {
        guard reply.code >= 500 else { return .reply(reply) }
        errors += 1
        guard errors >= limits.maxErrors else { return .reply(reply) }
        return .close([reply, SMTPReply(code: 421, enhancedStatus: "4.7.0", text: "\(limits.hostname) Too many errors")])
    }
}

extension SubmissionRefusal {
    /// The refusal as a reply value.
    var sessionReply: SMTPReply { SMTPReply(code: smtpCode, enhancedStatus: enhancedStatus, text: message) }
}
