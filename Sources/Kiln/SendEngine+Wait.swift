import KilnCore
import KilnStore

extension SendEngine {
    /// Delivers until the messages `ids` are delivered, bounced, expired or deferred, and
    /// returns their records. When another engine is delivering from the store, waits for
    /// it to record their outcomes instead (checking every `poll`), and returns as soon as
    /// the store is paused.
    public func deliverAndWait(for ids: [MessageID], poll: Duration = .milliseconds(100)) async throws -> [MessageRecord] {
        do {
            try await runUntilIdle()
        } catch let error as KilnError where error.code == .deliveryLockHeld {
            while try await store.messages(ids: ids).contains(where: { $0.state == .queued || $0.state == .leased }),
                  try await !store.pausedScopes().contains("*") {
                try await clock.sleep(for: poll)
            }
        }
        return try await store.messages(ids: ids)
    }
}
