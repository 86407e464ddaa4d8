import Foundation
import KilnCore
import KilnSMTP
import KilnStore

/// How often `run()` does its housekeeping: the retention purge and the gauges.
public struct Housekeeping: Sendable {
    /// Between two retention passes (each purges everything due, in small batches).
    public var retentionInterval: Duration
    /// Rows one retention batch deletes at most, per table (a few milliseconds of the write lock).
    public var retentionBatch: Int
    /// The gauges' refresh (`kiln_messages` counts the queue: at most this often, and
    /// never more than 5% of the time).
    public var metricsInterval: Duration
    public init(retentionInterval: Duration = .seconds(60), retentionBatch: Int = 500, metricsInterval: Duration = .seconds(10)) {
        self.retentionInterval = retentionInterval
        self.retentionBatch = retentionBatch
        self.metricsInterval = metricsInterval
    }
}

/// Whether the engine is ready for traffic (`/readyz`), and why not.
public struct Readiness: Sendable, Hashable {
    public var ready: Bool
    public var reason: String
}

/// An event destination as `kiln status` shows it.
public struct DestinationStatus: Sendable, Codable, Hashable {
    /// `configurationSet/name`.
    public var name: String
    public var type: String
    /// Events in the log after its cursor (every kind and set: some it will skip).
    public var pending: Int
    public var lastError: String?
    public var lastErrorAt: Timestamp?
}

extension SendEngine {
    /// Ready once the store is open (it is, once the engine exists) and a delivery run is
    /// going; not while the whole store is paused or the engine is shutting down.
    public func readiness() -> Readiness {
        if stopping.withLock({ $0 }) { return Readiness(ready: false, reason: "shutting down") }
        if !delivering.withLock({ $0 }) { return Readiness(ready: false, reason: "not delivering") }
        if let failure = storeWriteFailure.withLock({ $0 }) ?? storeFailure.withLock({ $0 }) { return Readiness(ready: false, reason: failure) }
        if let lapsed = liveSession.withLock({ $0 })?.startGate.lapsed {
            return Readiness(ready: false, reason: "leases lapsed: not renewed for a lease time (\(lapsed.components.seconds) s past); no new transfers until the store answers")
        }
        if pausedAll.withLock({ $0 }) { return Readiness(ready: false, reason: "paused") }
        return Readiness(ready: true, reason: "delivering")
    }

    /// Each configured destination's pending events and last error.
    public func destinationStatus() async throws(KilnError) -> [DestinationStatus] {
        let destinations = configuration.eventDestinations
        guard !destinations.isEmpty else { return [] }
        let cursors = try await store.destinationCursors()
        var result: [DestinationStatus] = []
        for (set, d, _) in destinations {
            let name = "\(set)/\(d.name)"
            let cursor = cursors[name]
            result.append(DestinationStatus(name: name, type: d.type, pending: try await store.outboxCount(after: cursor?.position ?? .start, cap: 10_000_000,
                                                                                            taking: OutboxFilter(kinds: d.kinds.map(\.rawValue), configurationSet: set)),
                                            lastError: cursor?.lastError, lastErrorAt: cursor?.lastErrorAt))
        }
        return result
    }

    /// The warm-up of `pairs` now: level, safe hourly volume, rest.
    func pairStatus(_ pairs: [PairSnapshot], now time: Timestamp) -> [(status: EngineStatus.PairStatus, level: Double)] {
        let strategies = configuration.warmupStrategies
        return pairs.map { pair in
            let pool = configuration.pools.first { $0.ips.contains(pair.ip) }?.name ?? ""
            let profile = ProviderProfile.resolve(pair.provider, overrides: configuration.providers)
            return (EngineStatus.PairStatus(
                ip: pair.ip, provider: pair.provider.id, percent: pair.warmup.percent,
                hourly: Int(saturating: pair.warmup.hourly(profile, strategy: strategies[pool] ?? .adaptive(WarmupModel()), now: time)),
                suspendedUntil: pair.suspendedUntil.flatMap { $0 > time ? $0 : nil }), pair.warmup.level)
        }.sorted { ($0.status.ip, $0.status.provider) < ($1.status.ip, $1.status.provider) }
    }

    // MARK: Retention

    /// The time before which final messages, their contents and events are purged: the
    /// retention period ago, but never past an event a destination has not taken.
    public func retentionCutoff() async throws(KilnError) -> Timestamp {
        var cutoff = now() - .seconds(Int64(configuration.store.retentionDays ?? 30) * 86_400)
        let destinations = configuration.eventDestinations
        if !destinations.isEmpty {
            let cursors = try await store.destinationCursors()
            for (set, d, _) in destinations {
                let position = cursors["\(set)/\(d.name)"]?.position ?? .start
                if let oldest = try await store.outboxTime(after: position) { cutoff = min(cutoff, oldest) }
            }
        }
        return cutoff
    }

    /// Purges what retention allows, in batches of `housekeeping.retentionBatch` rows (one
    /// short transaction each, with a pause between them for other writers). Returns the
    /// totals.
    @discardableResult
    public func purgeExpired() async throws(KilnError) -> PurgeResult {
        let cutoff = try await retentionCutoff()
        var total = PurgeResult()
        while true {
            let batch = try await store.purge(before: cutoff, limit: housekeeping.retentionBatch)
            total.messages += batch.messages
            total.contents += batch.contents
            total.events += batch.events
            if batch.total == 0 { break }
            // Other writers' turn between two batches.
            await Task.yield()
            if Task.isCancelled { break }
        }
        if total.total > 0 {
            logger.info("retention purged old messages", metadata: ["messages": "\(total.messages)", "contents": "\(total.contents)", "events": "\(total.events)"])
        }
        return total
    }

    func retainForever() async {
        while !Task.isCancelled {
            do {
                try await purgeExpired()
            } catch {
                logger.error("the retention purge failed; trying again later", metadata: ["error": "\(error)"])
            }
            do { try await clock.sleep(for: housekeeping.retentionInterval) } catch { return }
        }
    }

    // MARK: Gauges

    /// `kiln_paused` for the store (`*`), every configuration set and every tenant
    /// (`tenant:NAME`): set by the delivery run each time it reads the pauses (every
    /// 250 ms), so the gauge follows `/readyz` without waiting for the gauges' refresh.
    func setPausedGauges(_ paused: Set<String>) {
        for scope in ["*"] + configuration.configurationSets.map(\.name) + configuration.tenantNames.sorted().map(PausedScope.tenant) {
            metrics.gauge("kiln_paused", [("scope", scope)], paused.contains(scope) ? 1 : 0)
        }
    }

    /// Sets the gauges from the store and the delivery run in progress.
    public func refreshGauges() async throws(KilnError) {
        let byState = try await store.counts().reduce(into: [MessageState: Int]()) { $0[$1.state, default: 0] += $1.count }
        for state in MessageState.allCases { metrics.gauge("kiln_messages", [("state", state.description)], Double(byState[state] ?? 0)) }
        setPausedGauges(try await store.pausedScopes())
        for (scope, snapshot) in try await reputation() {
            metrics.gauge("kiln_reputation_rate", [("configuration_set", scope), ("kind", "bounce")], snapshot.bounceRate)
            metrics.gauge("kiln_reputation_rate", [("configuration_set", scope), ("kind", "complaint")], snapshot.complaintRate)
        }
        let session = liveSession.withLock { $0 }
        let live = session?.state.withLock { ($0.dispatcher.router.snapshot, $0.dispatcher.router.activePools) }
        let saved = live == nil ? try await store.loadShaping() : nil
        let pairs = live?.0 ?? saved?.pairs ?? []
        let active = live?.1 ?? saved?.activePools ?? [:]
        for (pair, level) in pairStatus(pairs, now: now()) {
            metrics.gauge("kiln_warmup_level", [("ip", pair.ip), ("provider", pair.provider)], min(1, max(0, level)))
            metrics.gauge("kiln_hourly_allowance", [("ip", pair.ip), ("provider", pair.provider)], Double(pair.hourly))
        }
        for pool in configuration.pools {
            metrics.gauge("kiln_pool_ips", [("pool", pool.name)], Double((active[pool.name] ?? pool.ips).count))
        }
        metrics.gauge("kiln_inflight_transfers", [], Double(session?.transport.inFlight ?? 0))
    }

    func refreshGaugesForever() async {
        while !Task.isCancelled {
            let started = clock.uptime()
            do {
                try await refreshGauges()
                if storeFailure.withLock({ $0 }) != nil {
                    storeFailure.withLock { $0 = nil }
                    logger.warning("the store answers again")
                }
            } catch {
                // Once an outage: a warning when the store stops answering, one when it is back.
                let first = storeFailure.withLock { failure in
                    defer { failure = "store failing: \(error.message)" }
                    return failure == nil
                }
                if first { logger.warning("the store is failing; /readyz says so until it answers again", metadata: ["error": "\(error)"]) }
            }
            // A large queue takes long to count: never more than 5% of the time.
            let wait = max(housekeeping.metricsInterval, (clock.uptime() - started) * 20)
            do { try await clock.sleep(for: wait) } catch { return }
        }
    }
}
