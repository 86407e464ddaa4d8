/// The parameters of the adaptive warm-up. Defaults follow the common warm-up plans:
/// a clean, well-used pair goes from cold to fully warm in about three weeks while
/// nothing is known of the provider (the SES plan takes 45 days to 50,000 a day,
/// SendGrid's 30 days), a throttle drops the pair to just below what the provider took,
/// and two weeks of silence make a pair cold again. The pace is learned: a provider that
/// takes every probe clean lets its pairs rise faster (see `ProviderPace`).
///
/// An hour at **full use** (at least `fullUseFraction` of the allowance, no throttle) is
/// a probe the provider took: the next hour's allowance rises by `probeStep`, doubled
/// for each such hour in a row (slow start), at most `maxProbeStep` an hour and, once the
/// provider has throttled the pair, at most `paceProbe` × the provider's learned daily
/// pace a day. A **busy** hour (`busyFraction`) rises
/// `risePerBusyHour` within the same daily cap. After a throttle the pair holds (no rise)
/// for the rest of its day; a block halves its level.
///
/// | level step | Gmail's range (20 → 50,000 an hour) | Apple's (10 → 10,000) |
/// |---|---|---|
/// | 0.0125 (first probe) | × 1.10 | × 1.09 |
/// | 0.05 | × 1.48 | × 1.41 |
/// | 0.1 (largest probe) | × 2.19 | × 1.99 |
public struct WarmupModel: Hashable, Sendable, Codable {
    /// The level gained by a busy hour (at least `busyFraction` of the allowance used, no throttle).
    public var risePerBusyHour: Double = 0.025
    /// The daily rise a provider is first credited with (its learned pace starts here):
    /// `(warm / cold) ^ maxRisePerDay`, about ×1.5 a day for Gmail's 20 → 50,000.
    public var maxRisePerDay: Double = 0.05
    /// The share of the hourly allowance an hour must use to count as busy.
    public var busyFraction: Double = 0.6
    /// The share of the hourly allowance an hour must use to count as a probe.
    public var fullUseFraction: Double = 0.85
    /// The first probe's rise; it doubles with each clean hour at full use in a row.
    public var probeStep: Double = 0.0125
    /// The largest rise of one hour.
    public var maxProbeStep: Double = 0.1
    /// Bounds of the learned daily pace.
    public var minPace: Double = 0.02
    public var maxPace: Double = 0.8
    /// A pair may rise this multiple of the learned pace a day: it probes above the pace,
    /// so a provider that lets reputation grow faster shows it.
    public var paceProbe: Double = 2
    /// The learned pace grows by this factor when a pair used its whole daily rise clean.
    public var paceGrowth: Double = 2
    /// The highest level: 1 is the profile's `warmHourly`; a provider that takes more
    /// per IP than the profile says is probed beyond it.
    public var maxLevel: Double = 1.5
    /// The lowest level throttles can set: 0 is the profile's `coldHourly`; a provider
    /// that takes less from a new IP than the profile says pushes the pair below it.
    public var minLevel: Double = -1
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
    /// Allowance validation (RFC 2861, RFC 7661): a day whose busiest hour used less than
    /// this share of the allowance did not show that the provider still takes the allowance.
    public var validatedUse: Double = 0.5
    /// After such a day the level moves this share of the way down to the level of the
    /// day's busiest hour (RFC 2861's (cwnd + W_used) / 2), never below 0 by it.
    public var validationDecay: Double = 0.5
    /// After such a day an hour sends at most this multiple of the day's busiest hour (the
    /// volume the provider recently took); clean hours at full use of that cap raise it by
    /// the probe steps until it reaches the level.
    public var validatedBurst: Double = 2

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
///   a daily cap (the provider's learned pace); clean hours at full use in a row raise
///   it faster (slow start), in bounded steps.
/// - A throttle lowers it at once, to just below what the hour took, and holds it for
///   the rest of the day; a block collapses it.
/// - Silence beyond a grace period decays it, so an IP idle to a provider for two weeks
///   is cold for it again.
/// - Under-use decays it too (allowance validation, RFC 2861 and RFC 7661): after a day
///   whose busiest hour used under half the allowance, with no throttle and no message that
///   found the pool without a token, the level moves halfway down to that
///   hour's volume, and the next hours send at most twice that volume until clean hours at
///   full use raise the cap back (`validateDay`).
public struct WarmupTracker: Hashable, Sendable, Codable {
    public internal(set) var level: Double
    /// The current hourly window.
    public internal(set) var windowStart: Int64
    public internal(set) var sentInWindow: Int = 0
    var throttledInWindow = false
    /// The current day (for the daily rise cap) and what the level rose in it.
    var dayStart: Int64
    var risenToday: Double = 0
    /// Clean hours at full use in a row (the slow start's exponent).
    var probes = 0
    /// No rise before this time (after a throttle: the rest of the day).
    var holdUntil: Int64 = .min
    /// Whether the provider has ever throttled or blocked this pair. Until then the slow
    /// start is bounded only by `maxProbeStep` an hour (the pair looks for the provider's
    /// limit); after, by the provider's learned daily pace too.
    public internal(set) var limited = false
    /// Whether the last window closed at full use, clean, with its rise cut by the daily
    /// cap: the provider took all the pace allowed it (the router then raises the pace).
    public internal(set) var reachedDailyCap = false
    public internal(set) var lastSentAt: Int64?
    public internal(set) var firstSentAt: Int64?
    /// The busiest closed window of the current day: messages sent, and their share of
    /// that window's allowance (for allowance validation).
    var peakInDay = 0
    var peakUseInDay = 0.0
    /// After an under-used day, the level an hour may send at (below `level`) until clean
    /// hours at full use raise it back to `level` (nil: no cap).
    public internal(set) var burstLevel: Double?

    static let hour: Int64 = 3_600_000_000_000
    static let day: Int64 = 24 * hour

    /// - Parameter limited: whether the provider has already limited the pair (see `limited`).
    public init(level: Double = 0, now: Timestamp, limited: Bool = false) {
        self.level = min(2, max(-1, level))
        self.limited = limited
        windowStart = now.nanoseconds
        dayStart = now.nanoseconds
    }

    /// The safe hourly volume at `level` for a provider between `cold` and `warm`; the
    /// range goes on geometrically beyond both ends (levels -1 to 2), for a provider that
    /// takes less from a new IP or more from a warm one than its profile says.
    public static func hourly(level: Double, cold: Double, warm: Double) -> Double {
        guard warm > cold, cold > 0 else { return max(cold, warm) }
        return cold * pow(warm / cold, min(2, max(-1, level)))
    }

    /// The level at which a pair sends `hourly` (the inverse of `hourly(level:...)`, -1 to 2).
    public static func level(hourly: Double, cold: Double, warm: Double) -> Double {
        guard warm > cold, cold > 0, hourly > 0 else { return hourly >= warm ? 1 : -1 }
        return min(2, max(-1, log(hourly / cold) / log(warm / cold)))
    }

    /// The hourly allowance now, under `strategy`, for `profile`.
    public func hourly(_ profile: ProviderProfile, strategy: WarmupStrategy, now: Timestamp) -> Double {
        switch strategy {
        case .adaptive:
            return Self.hourly(level: effectiveLevel, cold: profile.coldHourly, warm: profile.warmHourly)
        case .schedule(let schedule):
            let day = firstSentAt.map { Int((now.nanoseconds - $0) / Self.day) } ?? 0
            return schedule.dailyVolume(day: day) / 24
        }
    }

    /// The level the pair sends at: `level`, or the lower `burstLevel` after an under-used day.
    public var effectiveLevel: Double { min(level, burstLevel ?? level) }

    /// Whether `now` lies past the current window (call `roll` before using the pair).
    public func needsRoll(now: Timestamp) -> Bool { now.nanoseconds >= windowStart + 3_600_000_000_000 }

    /// Closes the windows that ended before `now`, judging each against the allowance
    /// (`allowance` per hour) that held in it, and applies decay for silence.
    /// - Parameters:
    ///   - pace: the provider's learned daily rise (default: `model.maxRisePerDay`).
    ///   - profile: the provider's profile, for allowance validation once the windows
    ///     reach the end of the pair's day (`validateDay`); nil: no validation.
    ///   - overflowedAt: the last time (nanoseconds) a message of the provider found no IP
    ///     of the pool with a token: a day with one was limited by the allowance, not by
    ///     demand, and is not validated.
    /// - Returns: whether the level changed.
    @discardableResult
    public mutating func roll(now: Timestamp, allowance: Double, model: WarmupModel, pace: Double? = nil, profile: ProviderProfile? = nil,
                              overflowedAt: Int64? = nil) -> Bool {
        guard needsRoll(now: now) else { return false }
        let before = level
        let windowEnd = windowStart + Self.hour
        // The window that just ended.
        if windowEnd > dayStart + Self.day {
            dayStart += (windowEnd - dayStart - 1) / Self.day * Self.day
            risenToday = 0
        }
        let dailyCap = limited ? max(0, (pace ?? model.maxRisePerDay) * model.paceProbe - risenToday) : .infinity
        reachedDailyCap = false
        let sent = Double(sentInWindow)
        if allowance > 0 {
            peakInDay = max(peakInDay, sentInWindow)
            peakUseInDay = max(peakUseInDay, sent / allowance)
        }
        if throttledInWindow || allowance <= 0 {
            probes = 0
        } else if let burst = burstLevel, burst < level, sent >= model.busyFraction * allowance, windowStart >= holdUntil {
            // Capped after an under-used day: the cap rises as the level would (slow start,
            // in bounded steps) up to the level already earned, outside the daily pace.
            let full = sent >= model.fullUseFraction * allowance
            let step = full ? min(model.maxProbeStep, model.probeStep * Double(1 << min(probes, 20))) : model.risePerBusyHour
            burstLevel = burst + step >= level ? nil : burst + step
            probes = full ? probes + 1 : 0
        } else if sent >= model.fullUseFraction * allowance, windowStart >= holdUntil {
            // A probe the provider took: slow start, in bounded steps, within the daily pace.
            let step = min(model.maxProbeStep, model.probeStep * Double(1 << min(probes, 20)))
            let rise = max(0, min(step, dailyCap, model.maxLevel - level))
            reachedDailyCap = step >= dailyCap && level < model.maxLevel
            level += rise
            risenToday += rise
            probes += 1
        } else if sent >= model.busyFraction * allowance, windowStart >= holdUntil {
            let rise = max(0, min(model.risePerBusyHour, dailyCap, model.maxLevel - level))
            level += rise
            risenToday += rise
            probes = 0
        } else {
            probes = 0
        }
        let windows = (now.nanoseconds - windowStart) / Self.hour
        windowStart += windows * Self.hour
        sentInWindow = 0
        throttledInWindow = false
        // The day is over: judge its use before the next window sends.
        if windowStart >= dayStart + Self.day {
            if let profile, (overflowedAt ?? .min) < dayStart { validateDay(model: model, cold: profile.coldHourly, warm: profile.warmHourly) }
            peakInDay = 0
            peakUseInDay = 0
        }
        // Silence: decay for the time past the grace period not yet charged.
        if let last = lastSentAt {
            let graceEnd = last + model.idleGrace.nanoseconds
            let chargedUntil = max(graceEnd, windowStart - windows * Self.hour)
            if windowStart > chargedUntil {
                let idle = Double(windowStart - chargedUntil) / Double(model.decayPeriod.nanoseconds)
                if level > 0 { level = max(0, level - idle) }
                probes = 0
            }
        }
        return level != before
    }

    /// Allowance validation, when a day ends (RFC 2861 §3, RFC 7661 §4.4): a day whose
    /// busiest hour used less than `validatedUse` of its allowance, with no throttle and no
    /// message that found the pool out of tokens (demand, not the allowance, held it: the
    /// RFCs' application-limited period), did not
    /// show that the provider still takes that allowance (a provider's reputation decays
    /// with under-use, not only with silence). The level moves `validationDecay` of the way
    /// down to the level of that hour's volume (not below 0 by this rule), and hours send at
    /// most `validatedBurst` × that volume until clean hours at full use raise the cap back.
    ///
    /// | busiest hour / allowance | level 1.0 (Gmail 20 → 50,000) becomes | burst cap |
    /// |---|---|---|
    /// | ≥ 0.5 | 1.0 | none |
    /// | 0.25 (12,500) | 0.91 (× 0.50 allowance) | none (2 × 12,500 is that allowance) |
    /// | 0.05 (2,500) | 0.81 (× 0.22 allowance) | 5,000 an hour |
    /// | silence (no send) | (idle decay after `idleGrace`) | none |
    mutating func validateDay(model: WarmupModel, cold: Double, warm: Double) {
        let throttledToday = holdUntil >= dayStart + Self.day
        guard peakInDay > 0, peakUseInDay < model.validatedUse, !throttledToday else { return }
        let used = Self.level(hourly: Double(peakInDay), cold: cold, warm: warm)
        if used < level { level = max(min(level, 0), level - model.validationDecay * (level - used)) }
        let burst = Self.level(hourly: model.validatedBurst * Double(peakInDay), cold: cold, warm: warm)
        if burst < level { burstLevel = min(burstLevel ?? burst, burst) }
        probes = 0
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
    /// The pair then holds (no rise) until its day ends.
    /// A pair capped after an under-used day (`burstLevel`) falls from its cap.
    ///
    /// A throttle **again** in the same window, after the pair rested for the backoff and
    /// resumed at its lowered rate (`again`), shows that the provider counts the window's
    /// messages, not their rate: what the window took is its limit for now. The pair falls
    /// to just below that volume however far it is (no `throttleDrop` bound), as TCP
    /// collapses its window when a retransmission is lost again (RFC 5681 §3.1, RFC 6298
    /// §5.5) instead of halving it once more. Each further resume in the window would
    /// only add to a count the provider already refused, and a provider blocks past some
    /// multiple of it.
    public mutating func recordThrottle(model: WarmupModel, takenLevel: Double? = nil, again: Bool = false) {
        let measured = (takenLevel ?? 0) - model.throttleMargin
        let sending = effectiveLevel
        let floor = again ? measured : max(sending - model.throttleDrop, measured)
        level = max(model.minLevel, min(sending - model.throttleMargin, floor))
        burstLevel = nil
        throttledInWindow = true
        limited = true
        probes = 0
        holdUntil = max(holdUntil, endOfWindowDay)
    }

    /// The end of the day the current window lies in.
    var endOfWindowDay: Int64 { dayStart + (max(0, windowStart - dayStart) / Self.day + 1) * Self.day }

    /// A block: the level collapses, and the pair holds for the rest of its day.
    public mutating func recordBlock(model: WarmupModel) {
        let sending = effectiveLevel
        level = sending > 0 ? sending * model.blockFactor : max(model.minLevel, sending - model.throttleDrop)
        burstLevel = nil
        throttledInWindow = true
        limited = true
        probes = 0
        holdUntil = max(holdUntil, endOfWindowDay)
    }

    /// What the level rose in the pair's current day.
    public var risenInDay: Double { risenToday }

    enum CodingKeys: String, CodingKey {
        case level, windowStart, sentInWindow, throttledInWindow, dayStart, risenToday, probes, holdUntil, limited, reachedDailyCap, lastSentAt, firstSentAt
        case peakInDay, peakUseInDay, burstLevel
    }

    /// Reads a saved tracker; the slow start's fields (added later) may be missing.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        level = try c.decode(Double.self, forKey: .level)
        windowStart = try c.decode(Int64.self, forKey: .windowStart)
        sentInWindow = try c.decode(Int.self, forKey: .sentInWindow)
        throttledInWindow = try c.decode(Bool.self, forKey: .throttledInWindow)
        dayStart = try c.decode(Int64.self, forKey: .dayStart)
        risenToday = try c.decode(Double.self, forKey: .risenToday)
        probes = try c.decodeIfPresent(Int.self, forKey: .probes) ?? 0
        holdUntil = try c.decodeIfPresent(Int64.self, forKey: .holdUntil) ?? .min
        // State saved before the slow start: bounded by the pace at once, to be safe.
        limited = try c.decodeIfPresent(Bool.self, forKey: .limited) ?? true
        reachedDailyCap = try c.decodeIfPresent(Bool.self, forKey: .reachedDailyCap) ?? false
        lastSentAt = try c.decodeIfPresent(Int64.self, forKey: .lastSentAt)
        firstSentAt = try c.decodeIfPresent(Int64.self, forKey: .firstSentAt)
        peakInDay = try c.decodeIfPresent(Int.self, forKey: .peakInDay) ?? 0
        peakUseInDay = try c.decodeIfPresent(Double.self, forKey: .peakUseInDay) ?? 0
        burstLevel = try c.decodeIfPresent(Double.self, forKey: .burstLevel)
    }

    /// The level as a whole percentage.
    public var percent: Int { Int(saturating: (level * 100).rounded()) }
}

import Glibc
