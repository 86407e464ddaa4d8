import KilnCore
import KilnStore

/// The unfinished queue per provider, and how long it takes to drain at the allowances the
/// warm-up grants now (`kiln queue`).
///
/// A provider's allowance is the sum of the safe hourly volumes of its (IP, provider)
/// pairs, as the delivering engine last saved them; a pair resting after a throttle or a
/// block counts for nothing. The drain time is `ceil(pending × 3600 / allowance)` seconds,
/// `pending` being its queued, deferred and leased messages:
///
/// | pending | pairs' hourly | drain |
/// |---|---|---|
/// | 1,200 | 200 + 180 | ~3 h 10 m (11,369 s) |
/// | 10 | 0 (or no pair yet) | unknown (`drainSeconds` nil) |
/// | any | any, sending paused | paused |
///
/// It is an estimate: spill-over to the shared relay, retries' waits, a warm-up that grows
/// while the queue drains and configuration-set or tenant pauses are not counted.
public struct QueueReport: Sendable, Codable {
    public struct Source: Sendable, Codable, Hashable {
        /// A source IP (or `shared`) that deferred messages last left from.
        public var ip: String
        public var deferred: Int
        /// The (IP, provider) pair's safe hourly volume now (nil: no saved state for it).
        public var hourly: Int?
    }

    public struct Provider: Sendable, Codable, Hashable {
        public var provider: String
        public var queued: Int
        public var deferred: Int
        public var leased: Int
        /// Queued, deferred and leased.
        public var pending: Int
        /// The earliest next attempt of its queued and deferred messages.
        public var nextDue: Timestamp?
        /// The sum of its pairs' safe hourly volumes (nil: no pair has an allowance yet).
        public var hourly: Int?
        /// Seconds to drain at `hourly` (nil: paused, or no allowance known).
        public var drainSeconds: Int64?
        /// The deferred messages by the source IP of their last attempt, where known.
        public var sources: [Source]
    }

    /// The whole store's sending is paused (`kiln pause`): nothing drains.
    public var paused: Bool
    /// Providers with unfinished messages, by name.
    public var providers: [Provider]

    /// - Parameters:
    ///   - counts: the store's `queueSummary()`.
    ///   - pairs: every (IP, provider) pair's warm-up now (`EngineStatus.warmup`).
    ///   - paused: whether all sending is paused.
    public init(counts: [QueueCount], pairs: [EngineStatus.PairStatus], paused: Bool) {
        self.paused = paused
        let byProvider = Dictionary(grouping: counts, by: \.provider.id)
        providers = byProvider.keys.sorted().map { name in
            let rows = byProvider[name] ?? []
            func count(_ state: MessageState) -> Int { rows.filter { $0.state == state }.reduce(0) { $0 + $1.count } }
            let own = pairs.filter { $0.provider == name }
            let granting = own.filter { $0.suspendedUntil == nil && $0.hourly > 0 }
            let hourly = granting.isEmpty ? nil : granting.reduce(0) { $0 &+ $1.hourly }
            let pending = count(.queued) + count(.deferred) + count(.leased)
            let deferredByIP = Dictionary(grouping: rows.filter { $0.state == .deferred && $0.sourceIP != nil }, by: { $0.sourceIP ?? "" })
            let sources = deferredByIP.keys.sorted().map { ip in
                Source(ip: ip, deferred: deferredByIP[ip]?.reduce(0) { $0 + $1.count } ?? 0, hourly: own.first { $0.ip == ip }?.hourly)
            }
            return Provider(
                provider: name, queued: count(.queued), deferred: count(.deferred), leased: count(.leased), pending: pending,
                nextDue: rows.compactMap(\.nextDue).min(), hourly: hourly,
                drainSeconds: paused ? nil : hourly.map { Self.drainSeconds(pending: pending, hourly: $0) }, sources: sources)
        }
    }

    /// `ceil(pending × 3600 / hourly)`; `hourly` must be positive.
    public static func drainSeconds(pending: Int, hourly: Int) -> Int64 {
        let (product, overflow) = Int64(pending).multipliedReportingOverflow(by: 3_600)
        guard !overflow else { return .max }
        return (product + Int64(hourly) - 1) / Int64(hourly)
    }
}

extension SendEngine {
    /// The unfinished queue per provider with its drain time (`QueueReport`), from the
    /// store and the warm-up state the delivering engine saved last.
    public func queueReport() async throws(KilnError) -> QueueReport {
        let pairs = pairStatus(try await store.loadShaping()?.pairs ?? [], now: now()).map(\.status)
        return QueueReport(counts: try await store.queueSummary(), pairs: pairs, paused: try await store.pausedScopes().contains("*"))
    }
}
