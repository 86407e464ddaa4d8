import KilnConfiguration
import KilnCore

/// Each tenant's quota (`tenants[].quota`): recipients per second, as a token bucket
/// holding one second's worth, and recipients per rolling 24 hours, counted in minutes.
/// A submission that does not fit is refused whole with the seconds to wait; nothing is
/// taken for it. One submission larger than a second's worth is let through when the
/// bucket is full and leaves it in debt, so that a 1,000-recipient call is possible
/// under a 50-per-second quota and the calls after it wait.
///
/// The counts are this node's: several nodes on one store each allow the full quota.
public struct TenantQuota: Sendable {
    private struct Usage: Sendable {
        var tokens: Double
        var refilledAt: Timestamp
        /// Recipients per minute (minute number → count), the last 24 hours.
        var minutes: [Int64: Int] = [:]
    }
    private let limits: [String: Configuration.Quota]
    private var usage: [String: Usage] = [:]

    public init(tenants: [Configuration.Tenant]) {
        limits = Dictionary(tenants.compactMap { tenant in tenant.quota.map { (tenant.name, $0) } }, uniquingKeysWith: { first, _ in first })
    }

    /// Takes `count` recipients from `tenant`'s quota; returns nil when it fits, else the
    /// whole seconds to wait before trying again (at least 1).
    public mutating func take(_ count: Int, tenant: String, now: Timestamp) -> Int? {
        guard let limit = limits[tenant], count > 0 else { return nil }
        let minute = now.nanoseconds / 60_000_000_000
        var entry = usage[tenant] ?? Usage(tokens: limit.maxPerSecond ?? 0, refilledAt: now)
        entry.minutes = entry.minutes.filter { minute - $0.key < 1_440 }
        if let perDay = limit.maxPer24Hours {
            let used = entry.minutes.values.reduce(0, +)
            if used + count > perDay {
                // Wait until enough of the oldest minutes leave the window (at least a minute).
                var freed = 0
                var wait: Int64 = 60
                for (start, taken) in entry.minutes.sorted(by: { $0.key < $1.key }) {
                    freed += taken
                    wait = (start + 1_440) * 60 - now.nanoseconds / 1_000_000_000
                    if used - freed + count <= perDay { break }
                }
                usage[tenant] = entry
                return Int(max(1, wait))
            }
        }
        if let perSecond = limit.maxPerSecond {
            let elapsed = Double(max(0, now.nanoseconds - entry.refilledAt.nanoseconds)) / 1e9
            entry.tokens = min(max(perSecond, 1), entry.tokens + elapsed * perSecond)
            entry.refilledAt = now
            let needed = min(Double(count), max(perSecond, 1))
            if entry.tokens < needed {
                usage[tenant] = entry
                return max(1, Int(((needed - entry.tokens) / perSecond).rounded(.up)))
            }
            entry.tokens -= Double(count)
        }
        entry.minutes[minute, default: 0] += count
        usage[tenant] = entry
        return nil
    }
}
