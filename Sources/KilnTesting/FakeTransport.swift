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
/// let engine = try SendEngine(configuration: c, logger: logger, clock: clock, transport: network.transport)
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
        return FakeTransport(network: self, heloName: options.heloName, onReply: options.onReply)
    }

    /// One SMTP transaction: the script may answer any command; the first reply of 400 or
    /// more ends it. Returns the reply that ended it, and the message's place on its
    /// connection (1 for the first; nil when no connection was made).
    func transact(_ job: SMTPJob, heloName: String, cap: Int? = nil) -> (reply: SMTPReply, placed: Int?) {
        let client = job.sourceIP ?? "127.0.0.1"
        let lane = Self.lane(of: job)
        let (reachable, onConnection, total) = state.withLock { state in
            (state.reachable, state.onConnection[lane, default: 0], state.messages.count)
        }
        guard reachable else {
            return (SMTPReply(code: 421, enhancedStatus: "4.4.1", text: "kiln: no connection: Could not connect to server", isLocal: true), nil)
        }
        let kinds: [LoopbackSMTPServer.Command.Kind] = (onConnection == 0 ? [.connect, .hello(heloName)] : [])
            + [.mailFrom(job.mailFrom), .recipient(job.recipient), .message(job.body)]
        for kind in kinds {
            let command = LoopbackSMTPServer.Command(kind: kind, clientAddress: client, messagesOnConnection: onConnection, messagesTotal: total)
            if let reply = script(command), reply.code >= 400 {
                // A refusal at connect or a 421 closes the connection.
                if kind == .connect || reply.code == 421 { state.withLock { $0.onConnection[lane] = 0 } }
                return (reply, kind == .connect ? nil : onConnection + 1)
            }
        }
        state.withLock { state in
            state.messages.append(.init(mailFrom: job.mailFrom, recipients: [job.recipient], data: job.body, clientAddress: client))
            let count = state.onConnection[lane, default: 0] + 1
            state.onConnection[lane] = count >= max(1, min(job.messagesPerConnection, cap ?? .max)) ? 0 : count
        }
        return (SMTPReply(code: 250, enhancedStatus: "2.0.0", text: "OK queued"), onConnection + 1)
    }

    /// A job's lane: its source address and destination.
    static func lane(of job: SMTPJob) -> String { lane(sourceIP: job.sourceIP, destination: job.destination) }

    static func lane(of result: SMTPResult) -> String { lane(sourceIP: result.sourceIP, destination: result.destination) }

    static func lane(sourceIP: String?, destination: SMTPURL) -> String { "\(sourceIP ?? "127.0.0.1") \(destination)" }

    /// Closes the open connection of a lane (the next message opens a new one).
    func closeConnection(_ lane: String) {
        state.withLock { $0.onConnection[lane] = 0 }
    }
}

/// A `MailTransport` that answers every job at once, in order, from a `FakeNetwork`. Like
/// `SMTPTransport` it reads no reply: it tells `onReply` of each one and carries out the
/// orders returned for the reply's lane (source IP, destination) before that lane's next
/// job: `withdraw` gives back what waits on the lane in the same `send`, `hold` gives back
/// what reaches the lane for a while (measured by `ContinuousClock`, as `SMTPTransport`
/// does), `capMessagesPerConnection` closes the lane's connections after that many.
public final class FakeTransport: MailTransport {
    let network: FakeNetwork
    let heloName: String
    let onReply: ReplyObserver?
    let state = Mutex(State())
    public let resultsReady: AsyncStream<Void>
    let continuation: AsyncStream<Void>.Continuation

    struct State {
        var results: [SMTPResult] = []
        /// The jobs answered and not yet taken.
        var held: Set<MessageID> = []
        var stopped = false
        /// Lanes held shut, until when.
        var holds: [String: ContinuousClock.Instant] = [:]
        /// Lanes' messages per connection, as capped by orders.
        var caps: [String: Int] = [:]
    }

    init(network: FakeNetwork, heloName: String, onReply: ReplyObserver?) {
        self.network = network
        self.heloName = heloName
        self.onReply = onReply
        (resultsReady, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    public func send(_ jobs: [SMTPJob]) {
        guard !jobs.isEmpty else { return }
        var results: [SMTPResult] = []
        var withdrawn: Set<String> = []
        for job in jobs {
            let lane = FakeNetwork.lane(of: job)
            let (stopped, held, cap) = state.withLock { state in
                (state.stopped, state.holds[lane].map { ContinuousClock.now < $0 } ?? false, state.caps[lane])
            }
            guard !withdrawn.contains(lane), !held, !stopped else {
                results.append(SMTPResult(job, reply: nil))
                continue
            }
            if network.losesJob() { continue }
            let (reply, placed) = network.transact(job, heloName: heloName, cap: cap)
            var result = SMTPResult(job, reply: reply)
            result.messagesOnConnection = placed
            for order in onReply?(result) ?? [] {
                if case .withdraw = order { withdrawn.insert(lane) } else { carryOut(order, lane: lane) }
            }
            results.append(result)
        }
        state.withLock {
            $0.held.formUnion(results.map(\.id))
            $0.results += results
        }
        continuation.yield()
    }

    /// Answering at once, it has nothing waiting on a lane to withdraw: a `hold` holds the
    /// lane's next jobs back, and a cap caps it.
    public func obey(_ orders: [LaneOrder], laneOf result: SMTPResult) {
        for order in orders { carryOut(order, lane: FakeNetwork.lane(of: result)) }
    }

    /// A hold or a cap for `lane` (a withdrawal is the caller's: only `send` has jobs waiting).
    func carryOut(_ order: LaneOrder, lane: String) {
        switch order {
        case .withdraw:
            break
        case .hold(let duration):
            state.withLock { $0.holds[lane] = max($0.holds[lane] ?? .now, .now + duration) }
        case .capMessagesPerConnection(let n):
            state.withLock { $0.caps[lane] = max(1, min($0.caps[lane] ?? .max, n)) }
            network.closeConnection(lane)
        }
    }

    public func takeResults() -> [SMTPResult] {
        state.withLock { state in
            defer { state.results.removeAll() }
            state.held.subtract(state.results.map(\.id))
            return state.results
        }
    }

    public var inFlight: Int { state.withLock { $0.held.count } }

    public var heldJobs: Set<MessageID> { state.withLock { $0.held } }

    public func shutdownGracefully() async {
        state.withLock { $0.stopped = true }
        continuation.finish()
    }
}
