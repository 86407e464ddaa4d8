/// The parameters of the adaptive warm-up. Defaults follow the common warm-up plans:
/// a clean, well-used pair goes from cold to fully warm in about three weeks at the
/// fastest (the SES plan takes 45 days to 50,000 a day, SendGrid's 30 days), volume grows
/// by at most about half a day, a throttle halves the volume, and two weeks of silence
/// make a pair cold again.
public struct WarmupModel: Hashable, Sendable, Codable {
    /// The level gained by an hour in which the pair used at least `busyFraction` of its
    /// allowance with no throttle.
    public var risePerBusyHour: Double = 0.025
    /// The most the level may rise within one day (a cap on the daily growth of volume:
    /// `(warm / cold) ^ maxRisePerDay`, about ×1.5 a day for Gmail's 20 → 50,000).
    public var maxRisePerDay: Double = 0.05
    /// The share of the hourly allowance an hour must use to count as busy.
    public var busyFraction: Double = 0.6
    /// The most level a throttle reply costs (0.1 of Gmail's range is about ×0.46 in
    /// volume): the cost when the throttle came early in the hour.
    public var throttleDrop: Double = 0.1
    /// How far below the level of what the hour had already taken a throttle sets the
    /// pair (0.01 of Gmail's range is about ×0.92), and the least a throttle costs.
    public var throttleMargin: Double = 0.01
    /// The level is multiplied by this on a block (a collapse, not a reset).
    public var blockFactor: Double = 0.5
    /// Silence shorter than this costs nothing (a daily campaign sender stays warm).
    public var idleGrace: Duration = .seconds(2 * 86_400)
    /// After the grace period, the whole range is lost over this much more silence.
    public var decayPeriod: Duration = .seconds(12 * 86_400)

    public init() {}
}

/// A fixed warm-up schedule: a daily volume per (IP, provider) for each day since the
/// pair first sent; after the last day, the last volume holds.
public struct WarmupSchedule: Hashable, Sendable, Codable {
    public var name: String
    public var daily: [Double]

    public init(name: String, daily: [Double]) {
        self.name = name
        self.daily = daily
    }

    /// An SES-style plan: about 45 days from 50 to 50,000 messages a day, geometrically.
    public static let ses45 = geometric(name: "ses45", from: 50, to: 50_000, days: 45)
    /// A 30-stage plan from 200 a day to two million.
    public static let stages30 = geometric(name: "stages30", from: 200, to: 2_000_000, days: 30)

    static func geometric(name: String, from first: Double, to last: Double, days: Int) -> WarmupSchedule {
        let factor = pow(last / first, 1 / Double(days - 1))
        var volume = first
        var daily: [Double] = []
        for _ in 0..<days {
            daily.append(volume.rounded())
            volume *= factor
        }
        daily[days - 1] = last
        return WarmupSchedule(name: name, daily: daily)
    }

    public func dailyVolume(day: Int) -> Double {
        daily.isEmpty ? 0 : daily[min(max(0, day), daily.count - 1)]
    }
}

/// How a pool's IPs warm up.
public enum WarmupStrategy: Hashable, Sendable, Codable {
    /// Learned from the replies (the default).
    case adaptive(WarmupModel)
    /// A fixed plan, for comparison and for operators who want one.
    case schedule(WarmupSchedule)
}

/// The warm-up of one (IP, provider) pair: a level in [0, 1] mapped geometrically to a
/// safe hourly volume between the provider's `coldHourly` and `warmHourly`. Usage is
/// counted in hourly windows; each window closes when time passes its end.
///
/// - A busy clean hour (most of the allowance used, no throttle) raises the level, up to
///   a daily cap.
/// - A throttle lowers it at once; a block collapses it.
/// - Silence beyond a grace period decays it, so an IP idle to a provider for two weeks
///   is cold for it again.
public struct WarmupTracker: Hashable, Sendable, Codable {
    public internal(set) var level: Double
    /// The current hourly window.
    public internal(set) var windowStart: Int64
    public internal(set) var sentInWindow: Int = 0
    var throttledInWindow = false
    /// The current day (for the daily rise cap) and what the level rose in it.
    var dayStart: Int64
    var risenToday: Double = 0
    public internal(set) var lastSentAt: Int64?
    public internal(set) var firstSentAt: Int64?

    static let hour: Int64 = 3_600_000_000_000
    static let day: Int64 = 24 * hour

    public init(level: Double = 0, now: Timestamp) {
        self.level = min(1, max(0, level))
        windowStart = now.nanoseconds
        dayStart = now.nanoseconds
    }

    /// The safe hourly volume at `level` for a provider between `cold` and `warm`.
    public static func hourly(level: Double, cold: Double, warm: Double) -> Double {
        guard warm > cold, cold > 0 else { return max(cold, warm) }
        return cold * pow(warm / cold, min(1, max(0, level)))
    }

    /// The level at which a pair sends `hourly` (the inverse of `hourly(level:...)`).
    public static func level(hourly: Double, cold: Double, warm: Double) -> Double {
        guard warm > cold, cold > 0, hourly > 0 else { return hourly >= warm ? 1 : 0 }
        return min(1, max(0, log(hourly / cold) / log(warm / cold)))
    }

    /// The hourly allowance now, under `strategy`, for `profile`.
    public func hourly(_ profile: ProviderProfile, strategy: WarmupStrategy, now: Timestamp) -> Double {
        switch strategy {
        case .adaptive:
            return Self.hourly(level: level, cold: profile.coldHourly, warm: profile.warmHourly)
        case .schedule(let schedule):
            let day = firstSentAt.map { Int((now.nanoseconds - $0) / Self.day) } ?? 0
            return schedule.dailyVolume(day: day) / 24
        }
    }

    /// Whether `now` lies past the current window (call `roll` before using the pair).
    public func needsRoll(now: Timestamp) -> Bool { now.nanoseconds >= windowStart + 3_600_000_000_000 }

    /// Closes the windows that ended before `now`, judging each against the allowance
    /// (`allowance` per hour) that held in it, and applies decay for silence.
    /// - Returns: whether the level changed.
    @discardableResult
    public mutating func roll(now: Timestamp, allowance: Double, model: WarmupModel) -> Bool {
        guard needsRoll(now: now) else { return false }
        let before = level
        // The window that just ended.
        if now.nanoseconds >= dayStart + Self.day {
            dayStart += (now.nanoseconds - dayStart) / Self.day * Self.day
            risenToday = 0
        }
        if !throttledInWindow, allowance > 0, Double(sentInWindow) >= model.busyFraction * allowance {
            let rise = min(model.risePerBusyHour, max(0, model.maxRisePerDay - risenToday))
            level = min(1, level + rise)
            risenToday += rise
        }
        let windows = (now.nanoseconds - windowStart) / Self.hour
        windowStart += windows * Self.hour
        sentInWindow = 0
        throttledInWindow = false
        // Silence: decay for the time past the grace period not yet charged.
        if let last = lastSentAt {
            let graceEnd = last + model.idleGrace.nanoseconds
            let chargedUntil = max(graceEnd, windowStart - windows * Self.hour)
            if windowStart > chargedUntil {
                let idle = Double(windowStart - chargedUntil) / Double(model.decayPeriod.nanoseconds)
                level = max(0, level - idle)
            }
        }
        return level != before
    }

    /// Counts one message sent at `now`.
    public mutating func recordSend(now: Timestamp) {
        sentInWindow &+= 1
        lastSentAt = now.nanoseconds
        if firstSentAt == nil { firstSentAt = now.nanoseconds }
    }

    /// A throttle: the level drops at once and this window cannot count as clean. The
    /// hour's sends so far are what the provider demonstrably took: the pair falls to just
    /// below that volume (`takenLevel`, the level of `sentInWindow` an hour), by at least
    /// `throttleMargin` and at most `throttleDrop`. A throttle late in a full hour costs
    /// little; one early in the hour costs the full drop.
    public mutating func recordThrottle(model: WarmupModel, takenLevel: Double? = nil) {
        let measured = (takenLevel ?? 0) - model.throttleMargin
        level = max(0, min(level - model.throttleMargin, max(level - model.throttleDrop, measured)))
        throttledInWindow = true
    }

    /// A block: the level collapses.
    public mutating func recordBlock(model: WarmupModel) {
        level *= model.blockFactor
        throttledInWindow = true
    }

    /// The level as a whole percentage.
    public var percent: Int { Int(saturating: (level * 100).rounded()) }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
