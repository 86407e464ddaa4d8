import KilnCore
import Logging
import NIOCore
import NIOSSL

/// Carries out a `SubmissionSession`'s actions on one connection: writes its replies,
/// asks the backend, starts TLS, and closes on QUIT, on too many errors, on a timeout and
/// when the server stops.
///
/// Order (RFC 2920): a line is handled only when the one before it has its reply. While
/// the backend works on a login or a message, later lines wait in `pending` and the
/// handler asks the socket for no more input (it holds `read`), so a client that
/// pipelines MAIL, RCPT and DATA gets its replies in order and cannot make it buffer
/// more than one read.
///
/// Pipeline: `[NIOSSLServerHandler]` (at the front, after STARTTLS or from the first byte)
/// → `ByteToMessageHandler(SubmissionLineDecoder)` → this handler.
final class SubmissionSessionHandler: ChannelDuplexHandler {
    typealias InboundIn = SubmissionLine
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let environment: SubmissionEnvironment
    let peer: String
    let decoderControl: SubmissionLineDecoder.Control
    var session: SubmissionSession
    var logger: Logger
    var pending = CircularBuffer<SubmissionLine>()
    /// Waiting for the backend.
    var busy = false
    /// A `read` held back while busy.
    var readHeld = false
    var closing = false
    var shutdownRequested = false
    var lastActivity = NIODeadline.now()
    var timer: Scheduled<Void>?
    var timerDeadline = NIODeadline.distantFuture

    init(environment: SubmissionEnvironment, peer: String, implicitTLS: Bool, decoderControl: SubmissionLineDecoder.Control) {
        self.environment = environment
        self.peer = peer
        self.decoderControl = decoderControl
        let settings = environment.settings
        let limits = SubmissionSession.Limits(
            hostname: settings.hostname, maxMessageBytes: settings.maxMessageBytes, maxRecipients: settings.maxRecipients,
            maxHeaderBytes: settings.maxHeaderBytes, maxCommandLineLength: settings.maxCommandLineLength, maxErrors: settings.maxErrors,
            offersTLS: environment.tlsContext != nil)
        session = SubmissionSession(limits: limits, trusted: environment.backend.trustedPrincipal(peer: peer), tlsActive: implicitTLS)
        logger = environment.logger
        logger[metadataKey: "peer"] = "\(peer)"
    }

    func channelActive(context: ChannelHandlerContext) {
        environment.metrics.session()
        write(session.greeting, context: context)
        context.flush()
        lastActivity = .now()
        scheduleTimeout(context: context, at: lastActivity + currentTimeout)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        closing = true
        pending.removeAll()
        timer?.cancel()
        timer = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let line = unwrapInboundIn(data)
        guard !closing else { return }
        if case .dataLines(let block) = line, busy || !pending.isEmpty || !session.isReceivingData {
            // A block for a session that is not (yet, or any more) taking DATA: its lines one by one.
            pending.append(contentsOf: SubmissionLineDecoder.lines(of: block).map(SubmissionLine.line))
            if !busy { drain(context: context) }
            return
        }
        if busy || !pending.isEmpty {
            pending.append(line)
        } else {
            perform(session.receive(line), context: context)
            decoderControl.receivingData = session.isReceivingData
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        lastActivity = .now()
        advanceTimeout(context: context)
        context.flush()
        context.fireChannelReadComplete()
    }

    func read(context: ChannelHandlerContext) {
        if busy || closing {
            readHeld = true
        } else {
            context.read()
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is SubmissionServerStopping {
            shutdownRequested = true
            closeIfStopping(context: context)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A failed TLS handshake, a reset connection: nothing to answer.
        logger.debug("submission session error", metadata: ["error": "\(error)"])
        closing = true
        context.close(promise: nil)
    }

    // MARK: Actions

    func perform(_ action: SubmissionSession.Action, context: ChannelHandlerContext) {
        switch action {
        case .receivingData:
            break
        case .reply(let reply):
            write(reply, context: context)
        case .close(let replies):
            close(with: replies, context: context)
        case .startTLS(let reply):
            startTLS(reply, context: context)
        case .checkSender(let address, let principal):
            let refusal = environment.backend.checkEnvelopeSender(address, principal: principal)
            if let refusal {
                logger.notice("submission sender refused", metadata: ["tenant": "\(principal.tenant)", "mailFrom": "\(address.escapingControlCharacters)",
                                                                      "reason": "\(refusal.message)"])
            }
            perform(session.senderChecked(address: address, principal: principal, refusal: refusal), context: context)
        case .authenticate(let name, let secret):
            let backend = environment.backend, peer = peer
            awaitBackend(context: context, { await backend.authenticate(name: name, secret: secret, peer: peer) }) { result in
                if case .failure(let refusal) = result {
                    self.logger.notice("submission login refused", metadata: ["name": "\(name.escapingControlCharacters)", "reason": "\(refusal.message)"])
                }
                self.perform(self.session.authenticationFinished(result), context: context)
            }
        case .submit(let submission):
            let backend = environment.backend
            awaitBackend(context: context, {
                await backend.submit(raw: submission.raw, mailFrom: submission.mailFrom, recipients: submission.recipients, principal: submission.principal)
            }) { result in
                switch result {
                case .success(let ids):
                    self.environment.metrics.message(accepted: true)
                    self.logger.debug("submission accepted", metadata: ["tenant": "\(submission.principal.tenant)", "ids": "\(ids.map(\.rawValue))"])
                case .failure(let refusal):
                    self.environment.metrics.message(accepted: false)
                    self.logger.notice("submission refused", metadata: ["tenant": "\(submission.principal.tenant)", "reason": "\(refusal.message)"])
                }
                self.write(self.session.submissionFinished(result), context: context)
            }
        case .messageRefused(let reply):
            environment.metrics.message(accepted: false)
            logger.notice("submission refused", metadata: ["reason": "\(reply.text)"])
            write(reply, context: context)
        }
        closeIfStopping(context: context)
    }

    /// Runs `work` (a backend call) off the event loop and hands its result to `then` back
    /// on it; nothing else of the session runs meanwhile.
    func awaitBackend<Value: Sendable>(context: ChannelHandlerContext, _ work: @escaping @Sendable () async -> Value,
                                       then: @escaping (Value) -> Void) {
        busy = true
        let registry = environment.registry
        registry.backendCallStarted()
        context.eventLoop.makeFutureWithTask(work).assumeIsolated().whenComplete { result in
            registry.backendCallFinished()
            self.busy = false
            guard !self.closing, case .success(let value) = result else { return }
            then(value)
            self.lastActivity = .now()
            self.drain(context: context)
            self.advanceTimeout(context: context)
            self.closeIfStopping(context: context)
        }
    }

    /// Handles the lines that waited for the backend, until the next backend call; then
    /// lets the socket be read again.
    func drain(context: ChannelHandlerContext) {
        while !busy, !closing, let line = pending.popFirst() {
            perform(session.receive(line), context: context)
            decoderControl.receivingData = session.isReceivingData
        }
        context.flush()
        if !busy, readHeld, !closing {
            readHeld = false
            context.read()
        }
    }

    func startTLS(_ reply: SMTPReply, context: ChannelHandlerContext) {
        guard let tls = environment.tlsContext else { return close(with: [session.shutdownReply], context: context) }
        // The 220 goes out in clear, before the TLS handler is in the pipeline.
        write(reply, context: context)
        context.flush()
        // Whatever the client sent after STARTTLS in clear is dropped, queued lines and
        // the decoder's bytes alike; every byte from now on goes through TLS.
        pending.removeAll()
        decoderControl.discardBuffered = true
        do {
            try context.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls), position: .first)
            session.tlsStarted()
        } catch {
            logger.warning("submission STARTTLS failed", metadata: ["error": "\(error)"])
            closing = true
            context.close(promise: nil)
        }
    }

    func close(with replies: [SMTPReply], context: ChannelHandlerContext) {
        guard !closing else { return }
        closing = true
        pending.removeAll()
        let text = replies.map(\.wireText).joined()
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(string: text))).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    /// After `stop()`: a session between transactions is told so and closed; one in a
    /// transaction finishes it first.
    func closeIfStopping(context: ChannelHandlerContext) {
        guard shutdownRequested, !busy, !closing, session.isIdle else { return }
        close(with: [session.shutdownReply], context: context)
    }

    func write(_ reply: SMTPReply, context: ChannelHandlerContext) {
        var buffer = context.channel.allocator.buffer(capacity: 64)
        buffer.writeString(reply.wireText)
        context.write(wrapOutboundOut(buffer), promise: nil)
    }

    // MARK: Timeouts

    var currentTimeout: TimeAmount {
        (session.isReceivingData ? environment.settings.dataTimeout : environment.settings.commandTimeout).timeAmount
    }

    /// One timer per session, not one per line: when it fires it looks at the time of the
    /// last input, and either closes the session or waits for the rest. Time spent waiting
    /// for the backend does not count.
    func scheduleTimeout(context: ChannelHandlerContext, at deadline: NIODeadline) {
        timerDeadline = deadline
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) {
            self.timeoutFired(context: context)
        }
    }

    /// Brings the timer forward when the session's timeout became shorter (the data
    /// timeout after DATA); a later deadline waits for the timer to fire.
    func advanceTimeout(context: ChannelHandlerContext) {
        let due = lastActivity + currentTimeout
        guard due < timerDeadline, !closing else { return }
        timer?.cancel()
        scheduleTimeout(context: context, at: due)
    }

    func timeoutFired(context: ChannelHandlerContext) {
        guard !closing else { return }
        if busy {
            lastActivity = .now()
            return scheduleTimeout(context: context, at: lastActivity + currentTimeout)
        }
        let due = lastActivity + currentTimeout
        guard due <= .now() else { return scheduleTimeout(context: context, at: due) }
        logger.info("submission session timed out")
        close(with: [session.timeoutReply], context: context)
    }
}

extension SMTPReply {
    /// The reply as written: one line per line of text, `code-` before all but the last
    /// (RFC 5321 §4.2.1), the enhanced status on each (RFC 2034); control characters in a
    /// text never reach the wire.
    var wireText: String {
        let status = enhancedStatus.map { "\($0) " } ?? ""
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        var out = ""
        for (index, line) in lines.enumerated() {
            let separator = index == lines.count - 1 ? " " : "-"
            out += "\(code)\(separator)\(status)\(line.escapingControlCharacters)\r\n"
        }
        return out
    }
}

/// The event `stop()` sends every open session.
struct SubmissionServerStopping {}
