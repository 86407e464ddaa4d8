import CCurl
import DequeModule
import Foundation
import KilnCore
import Logging
import Synchronization

/// SMTP delivery over libcurl's multi interface, on a thread of its own (never on the
/// Swift concurrency pool). Jobs are queued per (destination, source IP) lane; each lane
/// runs at most `maxConnections` transfers at once and reuses its connections for up to
/// `messagesPerConnection` messages. Every result carries the server's reply (code,
/// enhanced status, text), captured through curl's debug callback, classified once. A
/// throttle or a block (`Dispatcher.withdrawsLane(after:)`) takes back what waits on its
/// lane and holds the lane shut briefly: this is the one place that withdraws.
public final class SMTPTransport: Sendable {
    public struct Options: Sendable {
        /// The name given in EHLO.
        public var heloName: String
        public var connectTimeout: Duration
        public var transferTimeout: Duration
        /// How long a lane refuses new jobs after a reply that withdraws it: longer than the
        /// engine takes to record the reply and stop routing to that (IP, destination).
        public var laneHold: Duration
        /// Reads every reply where it arrives: operator rules, then the built-in table.
        public var classifier: ReplyClassifier
        /// How long a host that refused a connection or never answered is passed over
        /// (from the same source address) without a new socket.
        public var downHold: Duration
        /// The certificate authorities that jobs with `verifyTLS` trust (nil: the system's).
        public var caFile: String?
        public init(heloName: String, connectTimeout: Duration = .seconds(30), transferTimeout: Duration = .seconds(300),
                    laneHold: Duration = .seconds(2), downHold: Duration = .seconds(10), caFile: String? = nil,
                    classifier: ReplyClassifier = .builtIn) {
            self.caFile = caFile
            self.downHold = downHold
            self.heloName = heloName
            self.classifier = classifier
            self.connectTimeout = connectTimeout
            self.transferTimeout = transferTimeout
            self.laneHold = laneHold
        }
    }

    /// Yields whenever results are waiting in `takeResults()`; ends after shutdown.
    /// Results pile up while the consumer is busy, so each take is a batch.
    public let resultsReady: AsyncStream<Void>
    private let resultsContinuation: AsyncStream<Void>.Continuation
    private let inbox = Mutex(Inbox())
    private let multi: MultiHandle
    private let finished = DispatchSemaphore(value: 0)
    let options: Options
    let logger: Logger

    struct Inbox {
        var jobs: [SMTPJob] = []
        var stopping = false
        var inFlight = 0
        var results: [SMTPResult] = []
    }

    public init(options: Options, logger: Logger) {
        self.options = options
        self.logger = logger
        (resultsReady, resultsContinuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        multi = MultiHandle()
        let loop = TransferLoop(transport: self)
        let thread = Thread { loop.run() }
        thread.name = "kiln-smtp"
        thread.start()
    }

    /// Queues jobs; their results arrive on `results`.
    public func send(_ jobs: [SMTPJob]) {
        guard !jobs.isEmpty else { return }
        inbox.withLock {
            $0.jobs.append(contentsOf: jobs)
            $0.inFlight += jobs.count
        }
        multi.wakeup()
    }

    /// Takes the results that finished since the last call.
    public func takeResults() -> [SMTPResult] {
        inbox.withLock { state in
            let results = state.results
            state.results.removeAll(keepingCapacity: true)
            state.inFlight -= results.count
            return results
        }
    }

    /// Jobs queued or being transferred, or finished and not yet taken.
    public var inFlight: Int { inbox.withLock { $0.inFlight } }

    /// Stops taking new transfers, lets the running ones finish (up to the transfer
    /// timeout), returns the jobs never started with a nil reply, and ends `resultsReady`.
    /// Blocks until the transfer thread has stopped: call it off the cooperative pool, or
    /// use `shutdownGracefully()`.
    public func shutdown() {
        let first = inbox.withLock { state -> Bool in
            defer { state.stopping = true }
            return !state.stopping
        }
        guard first else { return }
        multi.wakeup()
        finished.wait()
    }

    /// `shutdown()` without blocking the caller's thread.
    public func shutdownGracefully() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            Thread.detachNewThread {
                self.shutdown()
                continuation.resume()
            }
        }
    }

    deinit {
        resultsContinuation.finish()
    }

    // Called on the transfer thread.
    func takeInbox() -> (jobs: [SMTPJob], stopping: Bool) {
        inbox.withLock { state in
            let jobs = state.jobs
            state.jobs.removeAll(keepingCapacity: true)
            return (jobs, state.stopping)
        }
    }

    func deliver(_ results: [SMTPResult]) {
        guard !results.isEmpty else { return }
        inbox.withLock {
            $0.results.append(contentsOf: results)
        }
        resultsContinuation.yield()
    }

    func loopFinished() {
        resultsContinuation.finish()
        finished.signal()
    }

    var multiHandle: MultiHandle { multi }
}

/// The curl multi handle; `wakeup` is the one call safe from any thread.
final class MultiHandle: @unchecked Sendable {
    let raw: UnsafeMutableRawPointer
    init() {
        curl_global_init(Int(CURL_GLOBAL_DEFAULT))
        raw = curl_multi_init()!
        kiln_multi_setopt_long(raw, CURLMOPT_MAXCONNECTS, 4096)
    }
    func wakeup() { curl_multi_wakeup(raw) }
    deinit { curl_multi_cleanup(raw) }
}
