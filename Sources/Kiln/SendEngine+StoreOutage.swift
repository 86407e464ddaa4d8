import KilnCore

/// A store that cannot write for a while (its disk full, an I/O error, the database
/// unreachable) is waited out, not a reason to stop: the delivery run keeps its in-flight
/// work and its outcomes, says why it waits on `/readyz` and once in the log, and tries
/// again after 0.5 s, doubling to 30 s, until the store answers.
extension SendEngine {
    /// How long to wait after a temporary store failure that followed `previous` waits.
    static func storeOutageWait(after previous: Duration) -> Duration {
        min(max(previous * 2, .milliseconds(500)), .seconds(30))
    }

    /// Marks the store unavailable (`/readyz` 503 with the reason; a warning at the first
    /// failure of an outage).
    func storeUnavailable(_ error: KilnError, retryingIn wait: Duration) {
        let reason = "store unavailable, delivery waits: \(error.message)" + (error.underlying.map { " (\($0))" } ?? "")
        let first = storeWriteFailure.withLock { failure in
            defer { failure = reason }
            return failure == nil
        }
        metrics.gauge("kiln_store_unavailable", [], 1)
        if first {
            logger.warning("the store cannot write; delivery keeps its in-flight work and waits until it can (/readyz says so)",
                           metadata: ["error": "\(error)", "retryIn": "\(wait)"])
        }
    }

    /// The store wrote again: clears the mark and says so once.
    func storeWrites() {
        guard storeWriteFailure.withLock({ failure in
            defer { failure = nil }
            return failure != nil
        }) else { return }
        metrics.gauge("kiln_store_unavailable", [], 0)
        logger.warning("the store writes again; delivery goes on")
    }

    /// `body` until it succeeds, waiting out temporary store failures. Other errors, and
    /// cancellation while waiting, are thrown.
    func waitingOutStoreOutages<T>(_ body: () async throws -> T) async throws -> T {
        var wait = Duration.zero
        while true {
            do {
                let value = try await body()
                storeWrites()
                return value
            } catch let error as KilnError where error.isTemporary {
                wait = Self.storeOutageWait(after: wait)
                storeUnavailable(error, retryingIn: wait)
                try await clock.sleep(for: wait)
            }
        }
    }
}
