import KilnCore
import Synchronization

/// Group commit: concurrent submitters append to a shared batch; the first of them (the
/// leader) writes everything pending in one transaction, hands each caller its ids, and
/// goes on until nothing is pending. One fsync serves many submits; no task is spawned.
final class GroupCommitter: Sendable {
    private enum Ticket: Sendable {
        case done([[MessageID]])
        case lead
    }
    private struct Waiter {
        var submissions: [Submission]
        /// nil for the leader's own submissions.
        var continuation: CheckedContinuation<Ticket, any Error>?
    }
    private struct State {
        var pending: [Waiter] = []
        var leading = false
    }
    private let state = Mutex(State())

    func commit(
        _ submissions: [Submission], now: Timestamp,
        write: ([Submission]) async throws -> [[MessageID]]
    ) async throws -> [[MessageID]] {
        let ticket = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Ticket, any Error>) in
            let lead = state.withLock { state -> Bool in
                if state.leading {
                    state.pending.append(Waiter(submissions: submissions, continuation: continuation))
                    return false
                }
                state.leading = true
                state.pending.append(Waiter(submissions: submissions, continuation: nil))
                return true
            }
            if lead { continuation.resume(returning: .lead) }
        }
        switch ticket {
        case .done(let ids):
            return ids
        case .lead:
            return try await drain(write: write)
        }
    }

    /// Writes pending batches until none is left; returns the leader's own ids.
    private func drain(write: ([Submission]) async throws -> [[MessageID]]) async throws -> [[MessageID]] {
        var own: Result<[[MessageID]], any Error>?
        while true {
            let batch = state.withLock { state -> [Waiter] in
                let batch = state.pending
                state.pending.removeAll()
                if batch.isEmpty { state.leading = false }
                return batch
            }
            if batch.isEmpty { break }
            let result: Result<[[MessageID]], any Error>
            do { result = .success(try await write(batch.flatMap(\.submissions))) } catch { result = .failure(error) }
            var offset = 0
            for waiter in batch {
                let mine = result.map { Array($0[offset..<offset + waiter.submissions.count]) }
                offset += waiter.submissions.count
                if let continuation = waiter.continuation {
                    continuation.resume(with: mine.map(Ticket.done))
                } else {
                    own = mine
                }
            }
        }
        guard let own else { return [] }
        return try own.get()
    }
}
