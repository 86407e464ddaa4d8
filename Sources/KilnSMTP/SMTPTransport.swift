import CCurl
import DequeModule
import Foundation
import KilnCore
import Logging
import Synchronization

/// SMTP delivery over libcurl's multi interface, on threads of its own (never on the
/// Swift concurrency pool): `Options.transferThreads` of them, each with its own multi
/// handle, because libcurl's SMTP "done" phase blocks its multi handle until the server
/// answers the end of DATA (curl issue #8555; a provider takes 0.1-1 s to scan a message):
/// on one thread every transfer would wait for every other's reply. A lane's transfers
/// are spread over the threads, each thread holding a share of the lane's connections.
/// Jobs are queued per (destination, source IP) lane; each lane
/// runs at most `maxConnections` transfers at once and reuses its connections for up to
/// `messagesPerConnection` messages. Every result carries the server's reply (code,
/// enhanced status, text), captured through curl's header callback, the curl result and
/// the host. The transport reads no reply: `Options.onReply` does, as each one arrives, and
/// the transport carries out the orders it returns for the reply's lane (`LaneOrder`:
/// withdraw what waits, hold the lane shut on every thread, cap its messages per
/// connection) before that lane starts another job.
public final class SMTPTransport: Sendable {
    public struct Options: Sendable {
        /// The name given in EHLO.
        public var heloName: String
        public var connectTimeout: Duration
        public var transferTimeout: Duration
        /// Told of each reply as it arrives; returns the orders for its lane (nil: no orders).
        public var onReply: ReplyObserver?
        /// How long a host that refused a connection or never answered is passed over
        /// (from the same source address) without a new socket.
        public var downHold: Duration
        /// The certificate authorities that jobs with `verifyTLS` trust (nil: the system's).
        public var caFile: String?
        /// Transfer threads (at least 1). Each waits on the network, not the CPU: a lane of
        /// n connections overlaps up to min(n, transferThreads) end-of-DATA waits.
        public var transferThreads: Int
        /// The engine's default (`delivery.transferThreads`).
        public static let defaultTransferThreads = 32
        /// Asked before each job starts (nil: every job starts): `StartGate`.
        public var startGate: StartGate?
        public init(heloName: String, connectTimeout: Duration = .seconds(30), transferTimeout: Duration = .seconds(300),
                    downHold: Duration = .seconds(10), caFile: String? = nil,
                    onReply: ReplyObserver? = nil, transferThreads: Int = 1, startGate: StartGate? = nil) {
            self.startGate = startGate
            self.transferThreads = max(1, transferThreads)
            self.caFile = caFile
            self.downHold = downHold
            self.heloName = heloName
            self.onReply = onReply
            self.connectTimeout = connectTimeout
            self.transferTimeout = transferTimeout
        }
    }

    /// Yields whenever results are waiting in `takeResults()`; ends after shutdown.
    /// Results pile up while the consumer is busy, so each take is a batch.
    public let resultsReady: AsyncStream<Void>
    private let resultsContinuation: AsyncStream<Void>.Continuation
    private let inbox = Mutex(Inbox())
    let shards: [TransferShard]
    private let finished = DispatchSemaphore(value: 0)
    /// Lanes held shut by `hold` orders, for every thread.
    private let holds = Mutex<[TransferLoop.LaneKey: ContinuousClock.Instant]>([:])
    let options: Options
    let logger: Logger

    struct Inbox {
        var stopping = false
        /// The jobs queued, being transferred, or finished and not yet taken.
        var held: Set<MessageID> = []
        var results: [SMTPResult] = []
        /// An announcement of results is due (`announceWindow`).
        var announcing = false
        /// Each lane's first thread and the jobs given to it so far: the next job goes to
        /// the next of its threads.
        var turns: [TransferLoop.LaneKey: (first: Int, count: Int)] = [:]
        /// The first thread of the next new lane. Lanes start one after the other's
        /// threads, so that their connections fall on different threads: a thread blocks
        /// on each end of DATA it runs, so two lanes sharing one wait for each other.
        var nextFirst = 0
        var runningLoops = 0

        /// The thread for a lane's next job among `threads`, and the share of the lane's
        /// `connections` that thread may open: the lane's jobs go to min(threads,
        /// connections) threads in turn, whose shares add up to `connections`.
        mutating func assign(_ key: TransferLoop.LaneKey, connections: Int, threads: Int) -> (thread: Int, share: Int) {
            let connections = max(1, connections)
            let spread = min(threads, connections)
            var lane = (first: nextFirst, count: 0)
            if let known = turns[key] {
                lane = known
            } else {
                nextFirst = (nextFirst + spread) % threads
            }
            turns[key] = (lane.first, lane.count &+ 1)
            let slot = lane.count % spread
            return ((lane.first + slot) % threads, connections / spread + (slot < connections % spread ? 1 : 0))
        }
    }

    public init(options: Options, logger: Logger) {
        self.options = options
        self.logger = logger
        (resultsReady, resultsContinuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        shards = (0..<options.transferThreads).map { _ in TransferShard() }
        inbox.withLock { $0.runningLoops = shards.count }
        for (index, shard) in shards.enumerated() {
            let loop = TransferLoop(transport: self, shard: shard)
            let thread = Thread { loop.run() }
            thread.name = "kiln-smtp-\(index)"
            thread.start()
        }
    }

    /// Queues jobs; their results arrive on `results`. A lane's jobs go to its threads in
    /// turn (of min(threads, maxConnections); each new lane starts after the threads of
    /// the one before), and each of those threads opens at most its share of the lane's
    /// connections.
    public func send(_ jobs: [SMTPJob]) {
        guard !jobs.isEmpty else { return }
        let count = shards.count
        var batches = [[SMTPJob]](repeating: [], count: count)
        inbox.withLock { state in
            for var job in jobs {
                state.held.insert(job.id)
                let (thread, share) = state.assign(TransferLoop.LaneKey(job), connections: job.maxConnections, threads: count)
                job.maxConnections = share
                batches[thread].append(job)
            }
        }
        for (shard, batch) in zip(shards, batches) where !batch.isEmpty {
            shard.inbox.withLock { $0.jobs.append(contentsOf: batch) }
            shard.multi.wakeup()
        }
    }

    public func obey(_ orders: [LaneOrder], laneOf result: SMTPResult) {
        guard !orders.isEmpty else { return }
        let key = TransferLoop.LaneKey(result)
        for order in orders {
            if case .hold(let duration) = order {
                hold(key, until: .now + duration)
                continue
            }
            // Each thread's lanes are its own: the order waits in its inbox.
            for shard in shards { shard.inbox.withLock { $0.orders.append((order, key)) } }
        }
        for shard in shards { shard.multi.wakeup() }
    }

    /// Holds a lane shut on every thread until `until` (a `hold` order).
    func hold(_ key: TransferLoop.LaneKey, until: ContinuousClock.Instant) {
        holds.withLock { $0[key] = max($0[key] ?? until, until) }
        for shard in shards { shard.multi.wakeup() }
    }

    /// Until when a lane is held shut, if it is.
    func heldUntil(_ key: TransferLoop.LaneKey, now: ContinuousClock.Instant) -> ContinuousClock.Instant? {
        holds.withLock { holds in
            guard let until = holds[key] else { return nil }
            if until <= now {
                holds[key] = nil
                return nil
            }
            return until
        }
    }

    /// Takes the results that finished since the last call.
    public func takeResults() -> [SMTPResult] {
        inbox.withLock { state in
            let results = state.results
            state.results.removeAll(keepingCapacity: true)
            for result in results { state.held.remove(result.id) }
            return results
        }
    }

    /// Jobs queued or being transferred, or finished and not yet taken.
    public var inFlight: Int { inbox.withLock { $0.held.count } }

    public var heldJobs: Set<MessageID> { inbox.withLock { $0.held } }

    /// Stops taking new transfers, lets the running ones finish (up to the transfer
    /// timeout), returns the jobs never started with a nil reply, and ends `resultsReady`.
    /// Blocks until the transfer thread has stopped: call it off the cooperative pool, or
    /// use `shutdownGracefully()`.
    public func shutdown() {
        beginShutdown()
        // Every caller waits; each passes the signal on to the next.
        finished.wait()
        finished.signal()
    }

    /// The first half of `shutdown()`: no new transfer starts, and the jobs never started
    /// come back with a nil reply; returns at once.
    public func beginShutdown() {
        let first = inbox.withLock { state -> Bool in
            defer { state.stopping = true }
            return !state.stopping
        }
        guard first else { return }
        for shard in shards {
            shard.inbox.withLock { $0.stopping = true }
            shard.multi.wakeup()
        }
    }

    /// `shutdown()` without blocking the caller's thread. If the calling task is cancelled
    /// (a graceful shutdown that ran out of time), the transfers still running are
    /// abandoned: their jobs come back at once with a nil reply, to be sent again later.
    public func shutdownGracefully() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                Thread.detachNewThread {
                    self.shutdown()
                    continuation.resume()
                }
            }
        } onCancel: {
            abandonRunning()
        }
    }

    /// Stops every thread now: running transfers are cut off and their jobs, like those
    /// never started, come back with a nil reply. (A message cut off after its data went
    /// out may have arrived: sent again, it arrives twice, never zero times.)
    public func abandonRunning() {
        for shard in shards {
            shard.abandoned.store(true, ordering: .relaxed)
            // Every wait on a receiver ends at once: the end of DATA's reply a thread is
            // blocked on (curl issue #8555), a greeting, a QUIT when connections close.
            shard.multi.sockets.shutAll()
            shard.inbox.withLock { $0.stopping = true }
            shard.multi.wakeup()
        }
    }

    deinit {
        resultsContinuation.finish()
    }

    /// Results that finish within this time of the first are announced together, so
    /// that the engine records them together (one transaction for many outcomes).
    static let announceWindow = DispatchTimeInterval.milliseconds(20)

    func deliver(_ results: [SMTPResult]) {
        guard !results.isEmpty else { return }
        let announce = inbox.withLock { inbox in
            inbox.results.append(contentsOf: results)
            defer { inbox.announcing = true }
            return !inbox.announcing
        }
        guard announce else { return }
        DispatchQueue.global().asyncAfter(deadline: .now() + Self.announceWindow) { [self] in
            inbox.withLock { $0.announcing = false }
            resultsContinuation.yield()
        }
    }

    /// Called by each transfer thread as it ends; the last one ends `resultsReady`.
    func loopFinished() {
        let last = inbox.withLock { state -> Bool in
            state.runningLoops -= 1
            return state.runningLoops == 0
        }
        guard last else { return }
        resultsContinuation.finish()
        finished.signal()
    }
}

/// One transfer thread's multi handle and inbox.
final class TransferShard: Sendable {
    struct Inbox {
        var jobs: [SMTPJob] = []
        var stopping = false
        /// Orders given from outside (`SMTPTransport.obey(_:laneOf:)`), for its lanes.
        var orders: [(LaneOrder, TransferLoop.LaneKey)] = []
    }
    let multi = MultiHandle()
    let inbox = Mutex(Inbox())
    /// Set by `abandonRunning()`: whatever ends from then on comes back unsent.
    let abandoned = Atomic<Bool>(false)

    // Called on the shard's transfer thread.
    func takeInbox() -> (jobs: [SMTPJob], stopping: Bool, orders: [(LaneOrder, TransferLoop.LaneKey)]) {
        inbox.withLock { state in
            let jobs = state.jobs
            let orders = state.orders
            state.jobs.removeAll(keepingCapacity: true)
            state.orders.removeAll()
            return (jobs, state.stopping, orders)
        }
    }
}

/// The curl multi handle; `wakeup` is the one call safe from any thread.
final class MultiHandle: @unchecked Sendable {
    let raw: UnsafeMutableRawPointer
    /// The sockets of its transfers and cached connections (curl opens and closes them
    /// through `SocketRegistry`'s callbacks).
    let sockets = SocketRegistry()
    init() {
        curl_global_init(Int(CURL_GLOBAL_DEFAULT))
        raw = curl_multi_init()!
        kiln_multi_setopt_long(raw, CURLMOPT_MAXCONNECTS, 4096)
    }
    func wakeup() { curl_multi_wakeup(raw) }
    deinit {
        // Closing its cached connections, curl says QUIT on each and waits for the answer
        // (up to 120 s from a receiver that stopped answering): not on the releasing thread.
        let raw = UncheckedSendable(raw)
        let sockets = sockets
        Thread.detachNewThread {
            curl_multi_cleanup(raw.value)
            // Its connections' close callbacks are done with the registry.
            withExtendedLifetime(sockets) {}
        }
    }
}

/// Every socket curl opens for one multi handle, so that another thread can shut them
/// all down (`shutdown(2)`, not `close`: curl still owns and closes each). Opening and
/// closing hold the lock, so an fd number is never shut down after curl closed it.
final class SocketRegistry: Sendable {
    private let state = Mutex<(open: Set<Int32>, shut: Bool)>(([], false))

    /// A new socket, unless everything is being shut down (then -1: no connection).
    func open(family: Int32, type: Int32, protocol: Int32) -> Int32 {
        state.withLock { state in
            guard !state.shut else { return -1 }
            let fd = socket(family, type, `protocol`)
            if fd >= 0 { state.open.insert(fd) }
            return fd
        }
    }

    func close(_ fd: Int32) -> Int32 {
        state.withLock { state in
            state.open.remove(fd)
            return Glibc.close(fd)
        }
    }

    /// Shuts down every open socket, and refuses new ones.
    func shutAll() {
        state.withLock { state in
            state.shut = true
            for fd in state.open { _ = shutdown(fd, Int32(SHUT_RDWR)) }
        }
    }
}

/// A pointer handed to the one thread that uses it from then on.
struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
