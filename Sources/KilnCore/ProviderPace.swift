/// What the replies of every (IP, provider) pair taught about one provider: how far it
/// lets a clean, fully used pair rise in a day (its pace), and, once its throttles stop
/// rising, the level at which one IP saturates (its ceiling). Learned from all IPs and
/// used for all of them, so a new IP ramps at the pace the others found; the pool
/// planner reads the ceiling (a saturated provider needs more IPs, not more time).
/// Like congestion control's slow start and AIMD, in levels of a day:
///
/// | evidence (adaptive pairs only) | what changes |
/// |---|---|
/// | a pair used its whole daily rise (`paceProbe` × pace), clean, at full use | pace × `paceGrowth` (at most once a day) |
/// | a throttle after the pair rose today | pace = the rise that reached the provider's limit |
/// | a throttle at or below the level the pair started its day at, a day or more after it first sent | ceiling = that level |
/// | a pair rises clean above the ceiling, or reaches `maxLevel` | ceiling cleared, or `maxLevel` |
/// | a block | pace halved |
///
/// Kept by the router; the engine saves it with the pairs' warm-up (`SavedShaping.paces`).
public struct ProviderPace: Hashable, Sendable, Codable {
    public var provider: MailboxProvider
    /// The daily rise a clean, fully used pair may make (level units; bounded by the
    /// model's `minPace` and `maxPace`).
    public var perDay: Double
    /// The level at which one IP saturates for this provider; nil while throttles still rise.
    public var ceilingLevel: Double?
    /// The day (in days since the epoch of the clock) the pace last grew.
    var grewOnDay: Int64 = .min

    public init(provider: MailboxProvider, perDay: Double, ceilingLevel: Double? = nil) {
        self.provider = provider
        self.perDay = perDay
        self.ceilingLevel = ceilingLevel
    }

    static let day: Int64 = 86_400_000_000_000

    /// After a pair's window closed (`WarmupTracker.roll`).
    public mutating func windowClosed(_ pair: WarmupTracker, model: WarmupModel) {
        if pair.reachedDailyCap {
            let today = pair.dayStart / Self.day
            if grewOnDay < today {
                perDay = min(model.maxPace, max(model.minPace, perDay * model.paceGrowth))
                grewOnDay = today
            }
        }
        if pair.level >= model.maxLevel {
            ceilingLevel = model.maxLevel
        } else if let ceiling = ceilingLevel, pair.level > ceiling + 2 * model.throttleMargin {
            ceilingLevel = nil
        }
    }

    /// After a throttle moved a pair from `before` to `after`.
    public mutating func throttled(before: WarmupTracker, after: WarmupTracker, model: WarmupModel) {
        let startOfDay = before.level - before.risenInDay
        // Where the provider's limit was found, over where the pair began its day.
        let rise = after.level + model.throttleMargin - startOfDay
        if before.risenInDay > 0, rise > model.throttleMargin {
            perDay = max(model.minPace, min(model.maxPace, rise))
        } else if rise <= model.throttleMargin, let first = before.firstSentAt, before.windowStart - first >= Self.day {
            ceilingLevel = max(ceilingLevel ?? 0, after.level)
        }
    }

    /// After a block.
    public mutating func blocked(model: WarmupModel) {
        perDay = max(model.minPace, perDay * 0.5)
    }
}
