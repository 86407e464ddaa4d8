import Dispatch
import Foundation
import Kiln
import KilnCore
import KilnStore
import KilnTesting
import Synchronization
import Testing

/// The engine names each outcome's lease epoch: an attempt that ends after its lease was
/// lost (the run stalled; the message went to another holder) is recorded as a
/// `staleOutcome` event and leaves the new holder's lease alone.
/// Another holder taking a message over while the engine's transfer of it is under way.
final class Takeover: Sendable {
    /// The store to take the lease over in (nil: not yet).
    let store = Mutex<SQLiteStore?>(nil)
    /// The engine's clock: the takeover waits until the engine waits on it.
    let clock = Mutex<ManualClock?>(nil)
    /// The other holder's lease.
    let taken = Mutex<LeasedMessage?>(nil)
    /// Why the takeover took nothing, if it did not.
    let problem = Mutex<String?>(nil)

    /// Once the engine's delivery loop waits (it leases nothing meanwhile), expires every
    /// lease and leases the due messages as `other/run`; blocks the calling thread (the
    /// transport's) until done.
    func happen() {
        guard let store = store.withLock({ $0 }), let clock = clock.withLock({ $0 }) else { return }
        let done = DispatchSemaphore(value: 0)
        Task {
            defer { done.signal() }
            _ = await clock.nextSleep()
            let far = Timestamp(nanoseconds: Int64.max / 2)
            do {
                let recovered = try await store.recoverLeases(all: false, now: far)
                let leased = try await store.lease(limit: 10, owner: "other/run", now: far, leaseUntil: far + .seconds(3600))
                taken.withLock { $0 = leased.first }
                if leased.isEmpty { problem.withLock { $0 = "nothing to lease after \(recovered) recovered" } }
            } catch {
                problem.withLock { $0 = "\(error)" }
            }
        }
        done.wait()
    }
}

@Suite struct EngineFencingTests {
    @Test func anAttemptThatOutlivesItsLeaseIsRecordedAsStale() async throws {
        let takeover = Takeover()
        let h = try await EngineHarness { command in
            // While the transfer is under way, the lease expires and another holder takes
            // the message.
            if case .recipient = command.kind { takeover.happen() }
            return nil
        }
        let store = try #require(h.engine.store as? SQLiteStore)
        let id = try #require(try await h.engine.submit(OutgoingMessage(h.draft(to: ["late@gmail.com"]))).first)
        takeover.store.withLock { $0 = store }
        takeover.clock.withLock { $0 = h.clock }
        try await h.engine.runUntilIdle()

        let other = try #require(takeover.taken.withLock { $0 }, "\(takeover.problem.withLock { $0 } ?? "the takeover did not run")")
        #expect(other.id == id)
        // The transfer happened (the receiver has it), but the other holder's lease stands.
        #expect(h.network.messages.count == 1)
        let record = try #require(try await store.messages(ids: [id]).first)
        #expect(record.state == .leased)
        #expect(record.attempts == 0)
        let events = try await store.events(ofMessage: id, limit: 100)
        #expect(!events.contains { $0.kind == .delivery })
        let stale = try #require(events.first { $0.kind == .staleOutcome })
        #expect(stale.detail?.contains(h.engine.nodeID) == true)
        #expect(stale.detail?.contains("would have recorded delivered") == true)
        #expect(stale.detail?.contains("the message is at lease epoch \(other.epoch), leased") == true)
        await h.finish()
    }
}
