import KilnCore
import KilnStore

/// The reputation guard: rolling bounce and complaint rates per configuration set and
/// for the account; a scope over its pause line stops sending until an operator resumes it.
extension SendEngine {
    /// The guard's view of every configuration set, and of the account (`*`).
    public func reputation() async throws(KilnError) -> [String: ReputationSnapshot] {
        let time = now()
        let defaults = ReputationThresholds()
        let hours = try await store.reputationHours(now: time, hours: defaults.windowHours)
        var result: [String: ReputationSnapshot] = [:]
        var account: [Int64: ReputationHour] = [:]
        let accountSince = try await store.reputationWindowStart(scope: "*")
        for set in configuration.configurationSets {
            let own = hours[set.name] ?? []
            let since = try await store.reputationWindowStart(scope: set.name)
            result[set.name] = ReputationGuard.evaluate(own, now: time, since: since, thresholds: set.reputationThresholds)
        }
        for tenant in configuration.tenantNames {
            let scope = PausedScope.tenant(tenant)
            let since = try await store.reputationWindowStart(scope: scope)
            result[scope] = ReputationGuard.evaluate(hours[scope] ?? [], now: time, since: since,
                                                     thresholds: configuration.tenant(named: tenant)?.reputationThresholds ?? defaults)
        }
        // The account is the sum of its configuration sets (a tenant's counters count the same sends again).
        for (scope, own) in hours where !scope.hasPrefix(PausedScope.tenantPrefix) {
            for hour in own {
                account[hour.hour, default: ReputationHour(hour: hour.hour, sent: 0, bounces: 0, complaints: 0)].sent += hour.sent
                account[hour.hour]!.bounces += hour.bounces
                account[hour.hour]!.complaints += hour.complaints
            }
        }
        result["*"] = ReputationGuard.evaluate(Array(account.values), now: time, since: accountSince, thresholds: defaults)
        return result
    }

    /// Pauses every scope over its pause line that is not paused yet; returns the events.
    @discardableResult
    func enforceReputation() async throws(KilnError) -> [DeliveryEvent] {
        let paused = try await store.pausedScopes()
        var events: [DeliveryEvent] = []
        for (scope, snapshot) in try await reputation() where snapshot.status == .sendingPaused && !paused.contains(scope) {
            try await store.setPaused(true, scope: scope == "*" ? nil : scope)
            pausesDidChange()
            events.append(DeliveryEvent(kind: .paused, time: now(), detail: "\(scope): reputation guard: \(snapshot.reason)"))
            logger.warning("sending paused by the reputation guard", metadata: ["scope": "\(scope)", "reason": "\(snapshot.reason)"])
        }
        if !events.isEmpty {
            try await store.append(events: events)
            broadcaster.publish(events)
        }
        return events
    }
}
