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
            let pending = count(.queued) + count(.deferred) + count(.leased)
            let estimate = DrainEstimate(provider: name, pending: pending, pairs: own, paused: paused)
            let deferredByIP = Dictionary(grouping: rows.filter { $0.state == .deferred && $0.sourceIP != nil }, by: { $0.sourceIP ?? "" })
            let sources = deferredByIP.keys.sorted().map { ip in
                Source(ip: ip, deferred: deferredByIP[ip]?.reduce(0) { $0 + $1.count } ?? 0, hourly: own.first { $0.ip == ip }?.hourly)
            }
            return Provider(
                provider: name, queued: count(.queued), deferred: count(.deferred), leased: count(.leased), pending: pending,
                nextDue: rows.compactMap(\.nextDue).min(), hourly: estimate.hourly, drainSeconds: estimate.seconds, sources: sources)
        }
    }

    /// `ceil(pending × 3600 / hourly)`; `hourly` must be positive.
    public static func drainSeconds(pending: Int, hourly: Int) -> Int64 {
        let (product, overflow) = Int64(pending).multipliedReportingOverflow(by: 3_600)
        guard !overflow else { return .max }
        return (product + Int64(hourly) - 1) / Int64(hourly)
    }
}

/// How long one provider's messages take to leave at the allowances granted now: the one
/// drain estimate of `kiln queue`, `kiln campaign status` and a campaign run's progress.
///
/// `hourly` is the sum of the safe hourly volumes of the provider's (IP, provider) pairs
/// that grant one (a pair resting after a throttle or a block counts for nothing); the
/// drain is `ceil(pending × 3600 / hourly)` seconds (`QueueReport.drainSeconds`). When the
/// pool spills to the shared relay (`relay`), the relay drains too: its hourly share of
/// `sharedPool.dailyLimit` is added, and a relay without a daily limit takes whatever the
/// IPs have not sent within the pool's spill wait, which then bounds the drain.
///
/// | pending | pairs' hourly | relay | seconds |
/// |---|---|---|---|
/// | 1,200 | 200 + 180 | none | 11,369 (~3 h 10 m) |
/// | 1,200 | 200 + 180 | 240/h | 6,968 |
/// | 1,200 | 200 + 180 | no limit, 900 s wait | 900 |
/// | 10 | none yet | none | nil (unknown) |
/// | any | any | any | nil when paused |
///
/// Not counted: retries' waits, a warm-up that grows while the queue drains, the relay's
/// limit being shared by every provider, and configuration-set or tenant pauses.
public struct DrainEstimate: Sendable, Codable, Hashable {
    /// How the shared relay takes a pool's overflow.
    public struct Relay: Sendable, Codable, Hashable {
        /// `sharedPool.dailyLimit / 24` (nil: no limit).
        public var hourly: Int?
        /// How long a message waits for a token of its pool's IPs before it spills.
        public var spillWaitSeconds: Double
        public init(hourly: Int?, spillWaitSeconds: Double) {
            self.hourly = hourly
            self.spillWaitSeconds = spillWaitSeconds
        }
    }

    public var provider: String
    /// The messages the estimate drains.
    public var pending: Int
    /// The dedicated IPs' allowance now, messages an hour (nil: no pair has one yet).
    public var hourly: Int?
    /// The shared relay drains too (the pool spills to it now).
    public var relay: Relay?
    /// Seconds to drain (nil: paused, or no allowance known).
    public var seconds: Int64?
    /// Every pair that has an allowance rests after a throttle or a block (so `hourly` is nil).
    public var resting: Bool

    /// - Parameters:
    ///   - pairs: the provider's (IP, provider) pairs now, only those of the IPs that send.
    ///   - relay: the shared relay, when the pool spills to it now.
    ///   - paused: whether sending is paused (nothing drains).
    public init(provider: String, pending: Int, pairs: [EngineStatus.PairStatus], relay: Relay? = nil, paused: Bool = false) {
        self.provider = provider
        self.pending = pending
        self.relay = relay
        let granting = pairs.filter { $0.provider == provider && $0.suspendedUntil == nil && $0.hourly > 0 }
        hourly = granting.isEmpty ? nil : granting.reduce(0) { $0 &+ $1.hourly }
        resting = granting.isEmpty && pairs.contains { $0.provider == provider && $0.suspendedUntil != nil }
        guard !paused else { seconds = nil; return }
        let carried = (hourly ?? 0) &+ (relay?.hourly ?? 0)
        var drain = carried > 0 ? QueueReport.drainSeconds(pending: pending, hourly: carried) : nil
        if let relay, relay.hourly == nil {
            let wait = Int64(relay.spillWaitSeconds.rounded(.up))
            drain = min(drain ?? wait, wait)
        }
        seconds = pending == 0 ? 0 : drain
    }

    /// A duration as the progress lines show it: `~20 s`, `~3 m 10 s`, `~3 h 10 m`, `~2 d 5 h`.
    public static func text(seconds: Int64) -> String {
        switch seconds {
        case ..<60: "~\(max(0, seconds)) s"
        case ..<3_600: "~\(seconds / 60) m \(seconds % 60) s"
        case ..<86_400: "~\(seconds / 3_600) h \(seconds % 3_600 / 60) m"
        default: "~\(seconds / 86_400) d \(seconds % 86_400 / 3_600) h"
        }
    }
}

/// The warm-up as a delivering engine sees it now.
public struct WarmupView: Sendable {
    /// Every (IP, provider) pair with its level (1 is fully warm).
    public var pairs: [(status: EngineStatus.PairStatus, level: Double)]
    /// The IPs each pool sends from now.
    public var activePools: [String: [String]]
    /// From the delivery run going on in this process (false: as a delivering engine last saved it).
    public var live: Bool
}

extension SendEngine {
    /// The unfinished queue per provider with its drain time (`QueueReport`), from the
    /// store and the warm-up state the delivering engine saved last.
    public func queueReport() async throws(KilnError) -> QueueReport {
        let pairs = try await warmup().pairs.map(\.status)
        return QueueReport(counts: try await store.queueSummary(), pairs: pairs, paused: try await store.pausedScopes().contains("*"))
    }

    /// The warm-up now: the live state of the delivery run going on in this process if
    /// there is one (its buckets run at these allowances), else the state saved last.
    public func warmup() async throws(KilnError) -> WarmupView {
        let session = liveSession.withLock { $0 }
        if let live = session?.state.withLock({ ($0.dispatcher.router.snapshot, $0.dispatcher.router.activePools) }) {
            return WarmupView(pairs: pairStatus(live.0, now: now()), activePools: live.1, live: true)
        }
        let saved = try await store.loadShaping()
        return WarmupView(pairs: pairStatus(saved?.pairs ?? [], now: now()), activePools: saved?.activePools ?? [:], live: false)
    }

    /// The drain of `pending` messages per provider, sent from pool `pool`: its active IPs'
    /// allowances now (`warmup()`), and the shared relay when the pool spills to it now
    /// (`always`, or `whileWarming` while an active IP is below full warm-up for the provider).
    public func drainEstimates(pending: [String: Int], pool name: String, warmup view: WarmupView, paused: Bool) -> [DrainEstimate] {
        let pool = configuration.pools.first { $0.name == name }
        let active = Set(view.activePools[name] ?? pool?.ips ?? [])
        let shared = configuration.sharedPool
        let spillover = shared == nil ? .never : (pool?.spillover ?? .whileWarming)
        return pending.keys.sorted().map { provider in
            let own = view.pairs.filter { $0.status.provider == provider && active.contains($0.status.ip) }
            let spills: Bool
            switch spillover {
            case .never: spills = false
            case .always: spills = true
            case .whileWarming: spills = own.count < active.count || own.contains { $0.level < 1 }
            }
            let relay = spills ? DrainEstimate.Relay(hourly: shared?.dailyLimit.map { $0 / 24 },
                                                     spillWaitSeconds: pool?.spillWaitSeconds ?? Router.defaultSpillWaitSeconds) : nil
            return DrainEstimate(provider: provider, pending: pending[provider] ?? 0, pairs: own.map(\.status), relay: relay, paused: paused)
        }
    }
}
