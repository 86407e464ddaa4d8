import CCurl
import DequeModule
import Foundation
import KilnCore
import Logging
import Synchronization

/// The state of the transfer thread. Confined to that thread.
final class TransferLoop: @unchecked Sendable {
    struct LaneKey: Hashable {
        var destination: SMTPURL
        var address: String?
        var sourceIP: String?

        init(_ job: SMTPJob) {
            destination = job.destination
            address = job.address
            sourceIP = job.sourceIP
        }

        /// The lane a result's job went on.
        init(_ result: SMTPResult) {
            destination = result.destination
            address = result.address
            sourceIP = result.sourceIP
        }
    }

    final class Lane {
        var queue = Deque<SMTPJob>()
        var idle: [Connection] = []
        var active = 0
        /// After a `capMessagesPerConnection` order: connections of the lane close after
        /// that many messages.
        var messageCap: Int?
        /// After a refused connection or a host that did not answer: jobs go straight to
        /// their next host (or back with the same reply) until this time, without a socket.
        var downUntil: ContinuousClock.Instant?
        var downReply: SMTPReply?
        /// The hosts each job passed over before this lane's.
        var passedOver: [MessageID: [String]] = [:]
        /// What its receiver offered in the last EHLO reply seen (SMTPUTF8).
        let traits = ReceiverTraits()

        /// Appends a job; one of a higher priority goes ahead of every lower-priority job
        /// waiting (behind those of its own priority), so transactional mail never waits
        /// behind a lane's bulk backlog.
        func enqueue(_ job: SMTPJob) {
            guard job.priority > 0, let last = queue.last, last.priority < job.priority else {
                queue.append(job)
                return
            }
            let position = queue.firstIndex { $0.priority < job.priority } ?? queue.endIndex
            queue.insert(job, at: position)
        }
    }

    /// One easy handle, reused for the lane's transfers; its connection stays in curl's
    /// connection cache between them.
    final class Connection {
        let easy: UnsafeMutableRawPointer
        let key: LaneKey
        var job: SMTPJob?
        var replyBytes: [UInt8] = []
        var readOffset = 0
        var messagesOnConnection = 0
        /// The current job's place on the connection (1 for the first).
        var placed = 0
        var recipients: UnsafeMutablePointer<curl_slist>?
        var connectTo: UnsafeMutablePointer<curl_slist>?
        /// Whether this transfer reached MAIL FROM: a failure before it is the host's, not
        /// the receiver's answer to the message.
        var sentMail = false
        /// Whether the job needs SMTPUTF8 (`SMTPUTF8.need`).
        var utf8Need = SMTPUTF8.Need.none
        /// Set when the prerequest callback stopped the transfer before MAIL FROM: the
        /// job's reply (the receiver does not offer the SMTPUTF8 it needs).
        var utf8Refusal: SMTPReply?
        /// The lane's receiver, as its EHLO replies showed it.
        let traits: ReceiverTraits
        /// The session options set on the handle (nil: none yet). The lane fixes the URL,
        /// the connect-to address and the source address; these come with each job.
        var session: SessionOptions?

        /// Sockets are opened and closed through `sockets`, so that `abandonRunning()` can
        /// end any wait on a receiver from another thread.
        init(key: LaneKey, sockets: SocketRegistry, traits: ReceiverTraits) {
            easy = curl_easy_init()!
            self.key = key
            self.traits = traits
            let registry = Unmanaged.passUnretained(sockets).toOpaque()
            kiln_easy_setopt_opensocket(easy, openSocketCallback)
            kiln_easy_setopt_pointer(easy, CURLOPT_OPENSOCKETDATA, registry)
            kiln_easy_setopt_closesocket(easy, closeSocketCallback)
            kiln_easy_setopt_pointer(easy, CURLOPT_CLOSESOCKETDATA, registry)
        }

        deinit {
            if let recipients { curl_slist_free_all(recipients) }
            curl_easy_cleanup(easy)
            if let connectTo { curl_slist_free_all(connectTo) }
        }
    }

    /// What a job says about its session beyond its lane: set on a handle only when it
    /// differs from the handle's last job, so a reused handle only changes its envelope.
    struct SessionOptions: Equatable {
        var tls: TLSPolicy
        var verifyTLS: Bool
        var credentials: SMTPCredentials?

        init(_ job: SMTPJob) {
            tls = job.tls
            verifyTLS = job.verifyTLS
            credentials = job.credentials
        }
    }

    unowned let transport: SMTPTransport
    let shard: TransferShard
    var lanes: [LaneKey: Lane] = [:]
    var running: [UnsafeMutableRawPointer: Connection] = [:]
    /// Jobs taken back from a lane (a `withdraw` order, a held lane, a closed start gate),
    /// not yet reported.
    var withdrawn: [SMTPResult] = []

    init(transport: SMTPTransport, shard: TransferShard) {
        self.transport = transport
        self.shard = shard
    }

    func run() {
        let multi = shard.multi.raw
        var stopping = false
        var pendingResults: [SMTPResult] = []
        while true {
            let (jobs, stop, orders) = shard.takeInbox()
            for (order, key) in orders { obey(order, lane: key, connection: nil) }
            let now = ContinuousClock.now
            for job in jobs {
                // Nothing unsafe reaches a curl option: refuse it here, with a local reply.
                if let refusal = EnvelopeCheck.refusal(job, heloName: transport.options.heloName) {
                    transport.logger.warning("smtp job refused", metadata: [
                        "recipient": "\(job.recipient.escapingControlCharacters)", "reply": "\(refusal)",
                    ])
                    pendingResults.append(report(SMTPResult(job, reply: refusal), lane: LaneKey(job)))
                    continue
                }
                if let result = route(job, now: now) { pendingResults.append(result) }
            }
            if stop && !stopping {
                stopping = true
                // Jobs not started go back to the caller untouched.
                for lane in lanes.values {
                    for job in lane.queue {
                        pendingResults.append(SMTPResult(job, reply: nil))
                    }
                    lane.queue.removeAll()
                }
            }
            if stop && !running.isEmpty && shard.abandoned.load(ordering: .relaxed) {
                for (easy, connection) in running {
                    // Its socket is shut down: curl's SMTP "done" fails at once.
                    curl_multi_remove_handle(multi, easy)
                    guard let job = connection.job else { continue }
                    connection.job = nil
                    pendingResults.append(SMTPResult(job, reply: nil))
                }
                running.removeAll()
            }
            if !stopping {
                for (key, lane) in lanes where !lane.queue.isEmpty {
                    // A hold ordered on another thread holds this lane too.
                    if transport.heldUntil(key, now: now) != nil {
                        withdraw(lane)
                        continue
                    }
                    start(lane, multi: multi)
                }
            }
            var stillRunning: Int32 = 0
            curl_multi_perform(multi, &stillRunning)
            var remaining: Int32 = 0
            var freed = false
            while let message = curl_multi_info_read(multi, &remaining) {
                guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle else { continue }
                freed = true
                let code = message.pointee.data.result
                if let result = finish(easy: easy, code: code, multi: multi) { pendingResults.append(result) }
            }
            if !withdrawn.isEmpty {
                pendingResults += withdrawn
                withdrawn.removeAll()
            }
            if !pendingResults.isEmpty {
                transport.deliver(pendingResults)
                pendingResults.removeAll(keepingCapacity: true)
            }
            if stopping && running.isEmpty { break }
            // A finished transfer freed a connection: its lane's next job starts now, not
            // after the poll (which, with no other transfer on this thread, would wait for
            // its whole timeout).
            if freed { continue }
            var numfds: Int32 = 0
            curl_multi_poll(multi, nil, 0, 100, &numfds)
        }
        for lane in lanes.values { lane.idle.removeAll() }
        lanes.removeAll()
        transport.loopFinished()
    }

    /// Puts a job on its lane; a job for a lane that is held or down comes back at once
    /// (nil reply: unsent), or moves on to its next host.
    func route(_ job: SMTPJob, now: ContinuousClock.Instant, passedOver: [String] = []) -> SMTPResult? {
        var job = job
        var passedOver = passedOver
        while true {
            let key = LaneKey(job)
            let lane = lanes[key] ?? { let l = Lane(); lanes[key] = l; return l }()
            if transport.heldUntil(key, now: now) != nil {
                return SMTPResult(job, reply: nil)
            }
            if let down = lane.downUntil, down > now, let reply = lane.downReply {
                guard !job.fallbacks.isEmpty else {
                    var result = SMTPResult(job, reply: reply)
                    result.passedOver = passedOver
                    return report(result, lane: key)
                }
                passedOver.append("\(SMTPHop(url: job.destination, address: job.address)): \(reply)")
                job.route(to: Array(job.fallbacks))
                continue
            }
            lane.enqueue(job)
            lane.passedOver[job.id] = passedOver.isEmpty ? nil : passedOver
            return nil
        }
    }

    /// Gives back what waits on a held lane, unsent.
    func withdraw(_ lane: Lane) {
        for waiting in lane.queue {
            lane.passedOver[waiting.id] = nil
            withdrawn.append(SMTPResult(waiting, reply: nil))
        }
        lane.queue.removeAll()
    }

    func start(_ lane: Lane, multi: UnsafeMutableRawPointer) {
        while let job = lane.queue.first, lane.active < max(1, job.maxConnections) {
            lane.queue.removeFirst()
            // A job whose lease is gone comes back unsent (`StartGate`).
            if let gate = transport.options.startGate, !gate.mayStart(job.id) {
                lane.passedOver[job.id] = nil
                withdrawn.append(SMTPResult(job, reply: nil))
                continue
            }
            let connection = lane.idle.popLast() ?? Connection(key: LaneKey(job), sockets: shard.multi.sockets, traits: lane.traits)
            configure(connection, for: job)
            lane.active += 1
            running[connection.easy] = connection
            curl_multi_add_handle(multi, connection.easy)
        }
    }

    func configure(_ connection: Connection, for job: SMTPJob) {
        let easy = connection.easy
        connection.job = job
        connection.replyBytes.removeAll(keepingCapacity: true)
        connection.readOffset = 0
        connection.sentMail = false
        connection.messagesOnConnection += 1
        connection.placed = connection.messagesOnConnection
        // Domains as A-labels whatever the caller gave (curl's own IDN conversion depends
        // on the process's locale, and sends raw UTF-8 where it fails); a non-ASCII local
        // part is left for SMTPUTF8 (checked in the prerequest callback).
        let mailFrom = IDNA.asciiAddress(job.mailFrom), recipient = IDNA.asciiAddress(job.recipient)
        connection.utf8Need = SMTPUTF8.need(mailFrom: mailFrom, recipient: recipient, body: job.body)
        connection.utf8Refusal = nil
        kiln_easy_setopt_offset(easy, CURLOPT_INFILESIZE_LARGE, curl_off_t(job.body.count))
        kiln_easy_setopt_string(easy, CURLOPT_MAIL_FROM, "<\(mailFrom)>")
        if let recipients = connection.recipients { curl_slist_free_all(recipients) }
        connection.recipients = curl_slist_append(nil, "<\(recipient)>")
        kiln_easy_setopt_slist(easy, CURLOPT_MAIL_RCPT, connection.recipients)
        if connection.session == nil { configureLane(connection, for: job) }
        let session = SessionOptions(job)
        if connection.session != session {
            configureSession(easy, session)
            connection.session = session
        }
        // Close the connection after its last allowed message.
        let cap = min(job.messagesPerConnection, lanes[connection.key]?.messageCap ?? .max)
        let last = connection.messagesOnConnection >= max(1, cap)
        kiln_easy_setopt_long(easy, CURLOPT_FORBID_REUSE, last ? 1 : 0)
        if last { connection.messagesOnConnection = 0 }
    }

    /// What stays the same for every job of the handle's lane: the URL (destination and
    /// HELO name), the connect-to address, the source address, callbacks and timeouts.
    func configureLane(_ connection: Connection, for job: SMTPJob) {
        let easy = connection.easy
        let options = transport.options
        let context = Unmanaged.passUnretained(connection).toOpaque()
        let host = job.destination.host.contains(":") ? "[\(job.destination.host)]" : job.destination.host
        let scheme = job.destination.implicitTLS ? "smtps" : "smtp"
        kiln_easy_setopt_string(easy, CURLOPT_URL, "\(scheme)://\(host):\(job.destination.port)/\(options.heloName)")
        kiln_easy_setopt_long(easy, CURLOPT_NOSIGNAL, 1)
        kiln_easy_setopt_long(easy, CURLOPT_UPLOAD, 1)
        kiln_easy_setopt_read(easy, readCallback)
        kiln_easy_setopt_pointer(easy, CURLOPT_READDATA, context)
        // Reply lines come through the header callback, not curl's verbose mode: verbose
        // would also format curl's own progress messages for every transfer.
        kiln_easy_setopt_header(easy, headerCallback)
        kiln_easy_setopt_pointer(easy, CURLOPT_HEADERDATA, context)
        kiln_easy_setopt_prereq(easy, prereqCallback)
        kiln_easy_setopt_pointer(easy, CURLOPT_PREREQDATA, context)
        kiln_easy_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, Int(options.connectTimeout.nanoseconds / 1_000_000))
        kiln_easy_setopt_long(easy, CURLOPT_TIMEOUT_MS, Int(options.transferTimeout.nanoseconds / 1_000_000))
        if let connectTo = connection.connectTo { curl_slist_free_all(connectTo) }
        connection.connectTo = nil
        if let address = job.address {
            // Connect to the resolved address; TLS still names and checks the host.
            let target = address.contains(":") ? "[\(address)]" : address
            connection.connectTo = curl_slist_append(nil, "\(host):\(job.destination.port):\(target):\(job.destination.port)")
        }
        kiln_easy_setopt_slist(easy, CURLOPT_CONNECT_TO, connection.connectTo)
        if let source = job.sourceIP {
            kiln_easy_setopt_string(easy, CURLOPT_INTERFACE, "host!\(source)")
        } else {
            kiln_easy_setopt_pointer(easy, CURLOPT_INTERFACE, nil)
        }
    }

    /// TLS policy, certificate checks and credentials of the handle's next session.
    func configureSession(_ easy: UnsafeMutableRawPointer, _ session: SessionOptions) {
        switch session.tls {
        case .none:
            kiln_easy_setopt_long(easy, CURLOPT_USE_SSL, Int(CURLUSESSL_NONE.rawValue))
        case .opportunistic:
            kiln_easy_setopt_long(easy, CURLOPT_USE_SSL, Int(CURLUSESSL_TRY.rawValue))
        case .required:
            kiln_easy_setopt_long(easy, CURLOPT_USE_SSL, Int(CURLUSESSL_ALL.rawValue))
        }
        kiln_easy_setopt_long(easy, CURLOPT_SSL_VERIFYPEER, session.verifyTLS ? 1 : 0)
        kiln_easy_setopt_long(easy, CURLOPT_SSL_VERIFYHOST, session.verifyTLS ? 2 : 0)
        if session.verifyTLS, let caFile = transport.options.caFile { kiln_easy_setopt_string(easy, CURLOPT_CAINFO, caFile) }
        if let credentials = session.credentials {
            kiln_easy_setopt_string(easy, CURLOPT_USERNAME, credentials.username)
            kiln_easy_setopt_string(easy, CURLOPT_PASSWORD, credentials.password)
        } else {
            kiln_easy_setopt_pointer(easy, CURLOPT_USERNAME, nil)
            kiln_easy_setopt_pointer(easy, CURLOPT_PASSWORD, nil)
        }
    }

    func finish(easy: UnsafeMutableRawPointer, code: CURLcode, multi: UnsafeMutableRawPointer) -> SMTPResult? {
        curl_multi_remove_handle(multi, easy)
        guard let connection = running.removeValue(forKey: easy), let job = connection.job else { return nil }
        connection.job = nil
        let lane = lanes[connection.key]
        lane?.active -= 1
        if shard.abandoned.load(ordering: .relaxed) {
            // Cut off by `abandonRunning()`: unsent as far as the caller knows.
            lane?.idle.append(connection)
            lane?.passedOver[job.id] = nil
            return SMTPResult(job, reply: nil)
        }
        let reply = connection.utf8Refusal ?? Self.reply(for: code, captured: connection.replyBytes)
        if code != CURLE_OK {
            // A failed transfer may leave its connection in any state: start the next
            // message on this handle with a fresh one.
            connection.messagesOnConnection = 0
            kiln_easy_setopt_long(easy, CURLOPT_FRESH_CONNECT, 1)
        } else {
            kiln_easy_setopt_long(easy, CURLOPT_FRESH_CONNECT, 0)
        }
        lane?.idle.append(connection)
        let passedOver = lane?.passedOver.removeValue(forKey: job.id) ?? []
        if code != CURLE_OK && !connection.sentMail, let lane {
            // The host failed before the transaction: no connection, no answer, or a
            // refusal at the greeting, EHLO or STARTTLS. The job, and (for a host that is
            // down) what waits for the same host, go on to their next hosts.
            if Self.isUnreachable(code, captured: connection.replyBytes) {
                lane.downUntil = ContinuousClock.now + transport.options.downHold
                lane.downReply = reply
                let waiting = Array(lane.queue)
                lane.queue.removeAll()
                for other in waiting {
                    if let result = route(other, now: ContinuousClock.now, passedOver: lane.passedOver.removeValue(forKey: other.id) ?? []) {
                        withdrawn.append(result)
                    }
                }
            }
            if !job.fallbacks.isEmpty {
                var next = job
                next.route(to: job.fallbacks)
                let tried = passedOver + ["\(SMTPHop(url: job.destination, address: job.address)): \(reply)"]
                transport.logger.debug("smtp host passed over", metadata: ["destination": "\(job.destination)", "reply": "\(reply)"])
                return route(next, now: ContinuousClock.now, passedOver: tried)
            }
        }
        if !reply.isPositive {
            transport.logger.debug("smtp reply", metadata: [
                "destination": "\(job.destination)", "source": "\(job.sourceIP ?? "-")", "reply": "\(reply)",
            ])
        }
        var result = SMTPResult(job, reply: reply)
        result.passedOver = passedOver
        result.curlCode = Int(code.rawValue)
        result.messagesOnConnection = connection.placed
        var microseconds: curl_off_t = 0
        if kiln_easy_getinfo_offset(easy, CURLINFO_TOTAL_TIME_T, &microseconds) == CURLE_OK {
            result.duration = .microseconds(Int64(microseconds))
        }
        // The orders for this lane are carried out before it starts another job: what
        // waits behind a throttle goes back at once, before more connections start.
        return report(result, lane: connection.key, connection: connection)
    }

    /// Tells the engine of a result with a reply (`Options.onReply`) and carries out the
    /// orders it gives for the result's lane, at once, on this thread.
    func report(_ result: SMTPResult, lane key: LaneKey, connection: Connection? = nil) -> SMTPResult {
        guard result.reply != nil, let observer = transport.options.onReply else { return result }
        for order in observer(result) { obey(order, lane: key, connection: connection) }
        return result
    }

    /// Carries out one order for a lane.
    /// - Parameter connection: the connection the reply came on, if any.
    func obey(_ order: LaneOrder, lane key: LaneKey, connection: Connection?) {
        switch order {
        case .withdraw:
            if let lane = lanes[key] { withdraw(lane) }
        case .hold(let duration):
            transport.hold(key, until: ContinuousClock.now + duration)
        case .capMessagesPerConnection(let cap):
            if let lane = lanes[key] { lane.messageCap = max(1, min(lane.messageCap ?? .max, cap)) }
            // The next message on this handle starts on a fresh connection.
            if let connection {
                connection.messagesOnConnection = 0
                kiln_easy_setopt_long(connection.easy, CURLOPT_FRESH_CONNECT, 1)
            }
        }
    }

    /// A refused connection, or a host that never answered (no reply line at all).
    static func isUnreachable(_ code: CURLcode, captured: [UInt8]) -> Bool {
        switch code {
        case CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST: return true
        case CURLE_OPERATION_TIMEDOUT: return SMTPReplyCapture.lastReply(in: captured) == nil
        default: return false
        }
    }

    /// The reply that ended the transfer: the server's last reply, or a local 4.4.x reply
    /// for a connection that failed before the server said anything decisive.
    static func reply(for code: CURLcode, captured: [UInt8]) -> SMTPReply {
        let last = SMTPReplyCapture.decidingReply(in: captured)
        if code == CURLE_OK {
            return last ?? SMTPReply(code: 250, text: "accepted (no reply text seen)")
        }
        if let last, last.code >= 400 { return last }
        let reason = String(cString: curl_easy_strerror(code))
        switch code {
        case CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_INTERFACE_FAILED:
            return SMTPReply(code: 421, enhancedStatus: "4.4.1", text: "kiln: no connection: \(reason)", isLocal: true)
        case CURLE_OPERATION_TIMEDOUT:
            return SMTPReply(code: 421, enhancedStatus: "4.4.2", text: "kiln: timed out: \(reason)", isLocal: true)
        case CURLE_USE_SSL_FAILED:
            return SMTPReply(code: 421, enhancedStatus: "4.7.10",
                             text: "kiln: the receiver offers no STARTTLS and delivery.tls is required: not sent in clear", isLocal: true)
        case CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CACERT_BADFILE, CURLE_SSL_ISSUER_ERROR:
            return SMTPReply(code: 421, enhancedStatus: "4.7.5", text: "kiln: TLS certificate not verified (delivery.tlsVerify): \(reason)", isLocal: true)
        case CURLE_SSL_CONNECT_ERROR:
            return SMTPReply(code: 421, enhancedStatus: "4.7.5", text: "kiln: TLS handshake failed: \(reason)", isLocal: true)
        default:
            return SMTPReply(code: 421, enhancedStatus: "4.4.2", text: "kiln: connection failed: \(reason)", isLocal: true)
        }
    }
}

private let readCallback: kiln_read_callback = { buffer, size, count, userdata in
    guard let buffer, let userdata else { return 0 }
    let connection = Unmanaged<TransferLoop.Connection>.fromOpaque(userdata).takeUnretainedValue()
    guard let job = connection.job else { return 0 }
    let remaining = job.body.count - connection.readOffset
    let n = min(remaining, size * count)
    if n > 0 {
        job.body.withUnsafeBytes { bytes in
            UnsafeMutableRawPointer(buffer).copyMemory(from: bytes.baseAddress! + connection.readOffset, byteCount: n)
        }
        connection.readOffset += n
    }
    return n
}

private let openSocketCallback: kiln_opensocket_callback = { userdata, _, address in
    guard let userdata, let address else { return -1 }
    let sockets = Unmanaged<SocketRegistry>.fromOpaque(userdata).takeUnretainedValue()
    return sockets.open(family: address.pointee.family, type: address.pointee.socktype, protocol: address.pointee.protocol)
}

private let closeSocketCallback: kiln_closesocket_callback = { userdata, fd in
    guard let userdata else { return Glibc.close(fd) }
    return Unmanaged<SocketRegistry>.fromOpaque(userdata).takeUnretainedValue().close(fd)
}

/// Every line the server sends (greeting, EHLO, replies) is kept for `SMTPReplyCapture`.
private let headerCallback: kiln_header_callback = { data, size, count, userdata in
    let total = size * count
    guard let data, let userdata else { return total }
    let connection = Unmanaged<TransferLoop.Connection>.fromOpaque(userdata).takeUnretainedValue()
    data.withMemoryRebound(to: UInt8.self, capacity: total) { bytes in
        connection.replyBytes.append(contentsOf: UnsafeBufferPointer(start: bytes, count: total))
    }
    return total
}

/// Called when the session is set up and MAIL FROM goes next: a failure after this is
/// the receiver's answer to (or a loss during) the transaction, not the host's. A job
/// that needs SMTPUTF8 the receiver does not offer stops here, before MAIL FROM
/// (`SMTPUTF8`): curl would send its UTF-8 address anyway.
private let prereqCallback: kiln_prereq_callback = { userdata, _, _, _, _ in
    guard let userdata else { return CURL_PREREQFUNC_OK }
    let connection = Unmanaged<TransferLoop.Connection>.fromOpaque(userdata).takeUnretainedValue()
    connection.sentMail = true
    // A new connection's EHLO reply is in the transcript; a reused one's came earlier.
    if let offered = SMTPUTF8.offered(in: connection.replyBytes) { connection.traits.offersSMTPUTF8 = offered }
    guard connection.utf8Need != .none else { return CURL_PREREQFUNC_OK }
    switch connection.traits.offersSMTPUTF8 {
    case true?: return CURL_PREREQFUNC_OK
    case false?: connection.utf8Refusal = SMTPUTF8.refusal(connection.utf8Need)
    case nil: connection.utf8Refusal = SMTPUTF8.unknown
    }
    return CURL_PREREQFUNC_ABORT
}
