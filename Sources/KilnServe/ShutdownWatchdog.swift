import Dispatch
import Foundation
import Glibc
import Logging
import Synchronization

/// Bounds a shutdown whatever hangs. At the first SIGTERM or SIGINT it starts a timer of
/// `limit` (the graceful shutdown's timeout plus a margin); if the process is still there
/// when it runs out, something ignored cancellation (a thread blocked in a system call, a
/// library that does not return), and the process ends at once with a log line. Nothing
/// is lost: a message still leased goes back to the queue when its lease expires, and
/// every acknowledged submission is already in the store.
public final class ShutdownWatchdog: Sendable {
    /// What a shutdown may take beyond `--shutdown-timeout`: time for the cut-off
    /// transfers' messages to be put back in the queue and for the store to close.
    public static let margin = Duration.seconds(5)
    let limit: Duration
    let logger: Logger
    /// Ends the process (`_exit`); tests pass their own.
    let end: @Sendable () -> Void
    private let armed = Mutex(false)
    /// The signal sources, kept alive; set once by `watch` before any signal can come.
    private nonisolated(unsafe) var sources: [any DispatchSourceSignal] = []

    public init(limit: Duration, logger: Logger, end: @escaping @Sendable () -> Void = { _exit(1) }) {
        self.limit = limit
        self.logger = logger
        self.end = end
    }

    /// Watches SIGTERM and SIGINT (beside ServiceGroup, which handles them too).
    public func watch(signals: [Int32] = [SIGTERM, SIGINT]) {
        let made = signals.map { signal in
            let source = DispatchSource.makeSignalSource(signal: signal, queue: .global())
            source.setEventHandler { [self] in shutdownBegan() }
            source.resume()
            return source
        }
        sources = made
    }

    /// Starts the timer once; later calls do nothing.
    public func shutdownBegan() {
        guard armed.withLock({ armed in defer { armed = true }; return !armed }) else { return }
        let (seconds, attoseconds) = limit.components
        // A thread of its own: the cooperative pool may be the thing that is stuck.
        let thread = Thread { [self] in
            Thread.sleep(forTimeInterval: Double(seconds) + Double(attoseconds) / 1e18)
            logger.critical("the shutdown did not finish within its time; ending the process now (leased messages return to the queue when their leases expire)",
                            metadata: ["limit": "\(limit)"])
            end()
        }
        thread.start()
    }
}
