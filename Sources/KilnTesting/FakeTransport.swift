import KilnCore
import KilnSMTP
import Logging
import Synchronization

/// The receiving side of `FakeTransport`: a script that answers each SMTP command (the
/// same `Script` as `LoopbackSMTPServer`'s), and every message accepted, with the source
/// address it left from. No sockets: engine tests drive delivery with it and a manual
/// clock, deterministically.
///
/// ```swift
/// let network = FakeNetwork { command in
///     if case .recipient(let address) = command.kind, address.hasPrefix("nobody@") {
///         return SMTPReply(code: 550, enhancedStatus: "5.1.1", text: "user unknown")
///     }
///     return nil
/// }
/// let engine = try SendEngine(configuration: c, logger: logger, now: clock.now, transport: network.transport)
/// ```
public final class FakeNetwork: Sendable {
    let script: LoopbackSMTPServer.Script
    let state = Mutex(State())

    struct State {
        var messages: [LoopbackSMTPServer.ReceivedMessage] = []
        var reachable = true
        /// Messages on the open connection of each lane (source address, destination).
        var onConnection: [String: Int] = [:]
        var transports = 0
        /// Jobs still to lose (`loseJobs`).
        var toLose = 0
    }

    public init(script: @escaping LoopbackSMTPServer.Script = { _ in nil }) {
        self.script = script
    }

    /// Everything accepted so far.
    public var messages: [LoopbackSMTPServer.ReceivedMessage] { state.withLock { $0.messages } }

    /// Makes every destination unreachable (a refused connection) or reachable again.
    public func setReachable(_ reachable: Bool) { state.withLock { $0.reachable = reachable } }

    /// The next `count` jobs vanish: the transport takes them and never answers, as if it
    /// had dropped them (the engine then holds their leases with nothing behind them).
    public func loseJobs(_ count: Int) { state.withLock { $0.toLose += count } }

    /// Whether to lose this job (`loseJobs`).
    func losesJob() -> Bool {
        state.withLock { state in
            guard state.toLose > 0 else { return false }
            state.toLose -= 1
            return true
        }
    }

    /// Transports made so far (one per delivery run).
    public var transportCount: Int { state.withLock { $0.transports } }

    /// A transport onto this network: pass it as `SendEngine`'s `transport:`.
    @Sendable public func transport(options: SMTPTransport.Options, logger: Logger) -> any MailTransport {
        state.withLock { $0.transports += 1 }
        return FakeTransport(network: self, heloName: options.heloName, classifier: options.classifier)
    }

    /// One SMTP transaction: the script may answer any command; the first reply of 400 or
    /// more ends it. Returns the reply that ended it.
    func transact(_ job: SMTPJob, heloName: String) -> SMTPReply {
        let client = job.sourceIP ?? "127.0.0.1"
        let lane = "\(client) \(job.destination)"
        let (reachable, onConnection, total) = state.withLock { state in
            (state.reachable, state.onConnection[lane, default: 0], state.messages.count)
        }
        guard reachable else {
            return SMTPReply(code: 421, enhancedStatus: "4.4.1", text: "kiln: no connection: Could not connect to server", isLocal: true)
        }
        let kinds: [LoopbackSMTPServer.Command.Kind] = (onConnection == 0 ? [.connect, .hello(heloName)] : [])
            + [.mailFrom(job.mailFrom), .recipient(job.recipient), .message(job.body)]
        for kind in kinds {
            let command = LoopbackSMTPServer.Command(kind: kind, clientAddress: client, messagesOnConnection: onConnection, messagesTotal: total)
            if let reply = script(command), reply.code >= 400 {
                // A refusal at connect or a 421 closes the connection.
                if kind == .connect || reply.code == 421 { state.withLock { $0.onConnection[lane] = 0 } }
                return reply
            }
        }
        state.withLock { state in
            state.messages.append(.init(mailFrom: job.mailFrom, recipients: [job.recipient], data: job.body, clientAddress: client))
            let count = state.onConnection[lane, default: 0] + 1
            state.onConnection[lane] = count >= max(1, job.messagesPerConnection) ? 0 : count
        }
        return SMTPReply(code: 250, enhancedStatus: "2.0.0", text: "OK queued")
    }
}

/// A `MailTransport` that answers every job at once, in order, from a `FakeNetwork`. It
/// classifies each reply once and, like `SMTPTransport`, takes back what waits behind a
/// throttle or a block on the same lane (`Dispatcher.withdrawsLane(after:)`): those jobs
/// come back with a nil reply.
public final class FakeTransport: MailTransport {
    let network: FakeNetwork
    let heloName: String
    let classifier: ReplyClassifier
    let state = Mutex(State())
    public let resultsReady: AsyncStream<Void>
    let continuation: AsyncStream<Void>.Continuation

    struct State {
        var results: [SMTPResult] = []
        var inFlight = 0
        var held: Set<MessageID> = []
        var stopped = false
    }

    init(network: FakeNetwork, heloName: String, classifier: ReplyClassifier) {
        self.network = network
        self.heloName = heloName
        self.classifier = classifier
        (resultsReady, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    public func send(_ jobs: [SMTPJob]) {
        guard !jobs.isEmpty else { return }
        var results: [SMTPResult] = []
        var withdrawn: Set<String> = []
        for job in jobs {
            let lane = "\(job.sourceIP ?? "-") \(job.destination)"
            guard !withdrawn.contains(lane), !state.withLock({ $0.stopped }) else {
                results.append(SMTPResult(id: job.id, reply: nil, sourceIP: job.sourceIP, destination: job.destination))
                continue
            }
            if network.losesJob() { continue }
            let reply = network.transact(job, heloName: heloName)
            let classification = classifier.classify(reply, provider: job.provider)
            if Dispatcher.withdrawsLane(after: classification) { withdrawn.insert(lane) }
            results.append(SMTPResult(id: job.id, reply: reply, classification: classification, sourceIP: job.sourceIP, destination: job.destination))
        }
        state.withLock {
            $0.inFlight += results.count
            $0.held.formUnion(results.map(\.id))
            $0.results += results
        }
        continuation.yield()
    }

    public func takeResults() -> [SMTPResult] {
        state.withLock { state in
            defer { state.results.removeAll() }
            state.inFlight -= state.results.count
            state.held.subtract(state.results.map(\.id))
            return state.results
        }
    }

    public var inFlight: Int { state.withLock { $0.inFlight } }

    public var heldJobs: Set<MessageID> { state.withLock { $0.held } }

    public func shutdownGracefully() async {
        state.withLock { $0.stopped = true }
        continuation.finish()
    }
}
