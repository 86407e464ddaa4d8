import KilnCore
import Synchronization

/// The engine's word on whether a queued job may still start, asked by the transport
/// right before it starts each one. A job whose lease is gone must not start: another
/// node may be sending the same message. Leases are gone when the run has not renewed
/// them for a lease time (it stalled, or it cannot reach the store) or when a heartbeat
/// says they were taken back. A job the gate stops comes back unsent (a nil reply), as a
/// withdrawn one does.
public final class StartGate: Sendable {
    private let state = Mutex<(validUntil: Duration?, lost: Set<MessageID>)>((nil, []))
    /// The engine's clock: deadlines are readings of its `uptime`.
    private let clock: any EngineClock

    public init(clock: any EngineClock) { self.clock = clock }

    /// Jobs may start until `deadline` (the last renewal plus the lease time), on the
    /// clock's `uptime`.
    public func leasesValid(until deadline: Duration) {
        state.withLock { $0.validUntil = deadline }
    }

    /// These jobs' leases were taken back: they must not start.
    public func markLost(_ ids: [MessageID]) {
        guard !ids.isEmpty else { return }
        state.withLock { $0.lost.formUnion(ids) }
    }

    /// Whether the leases have lapsed: not renewed for a lease time (nil until the first
    /// renewal), and for how long.
    public var lapsed: Duration? {
        let now = clock.uptime()
        return state.withLock { state in state.validUntil.flatMap { now >= $0 ? now - $0 : nil } }
    }

    /// Whether the job for `id` may start now (a stopped job's id is forgotten).
    public func mayStart(_ id: MessageID) -> Bool {
        let now = clock.uptime()
        return state.withLock { state in
            if state.lost.remove(id) != nil { return false }
            return state.validUntil.map { now < $0 } ?? true
        }
    }
}
