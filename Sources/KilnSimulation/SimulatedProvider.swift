import KilnCore

/// A provider's hidden state for one IP, and its rules (the `ProviderModel`, exactly).
public struct SimulatedPair: Sendable, Hashable {
    public enum Outcome: Sendable, Hashable {
        case accepted
        case userUnknown
        case throttled
        /// `true` when this attempt started the block.
        case blocked(newEpisode: Bool)
    }

    public var reputation: Double {
        didSet { capacityKnown = false }
    }
    /// `capacity(reputation:)`, computed once per reputation (it changes once a day).
    var capacity = 0.0
    var capacityKnown = false
    var hourAttempts = 0
    var hourAccepted = 0
    var blockedUntil: Int64 = .min
    var dayAccepted = 0
    var dayAttempted = 0
    var dayThrottled = 0
    var dayBounced = 0

    public init(reputation: Double) { self.reputation = reputation }

    public mutating func startHour() {
        hourAttempts = 0
        hourAccepted = 0
    }

    /// One attempt at `time` (nanoseconds): blocked while a block lasts; a block when the
    /// hour's attempts pass `cap × blockFactor`; a throttle once `cap × (1 + tolerance)`
    /// were accepted this hour; else accepted (a share of them unknown users).
    public mutating func attempt(_ m: ProviderModel, at time: Int64, hardBounceRate: Double, using rng: inout some RandomNumberGenerator) -> Outcome {
        attempt(ProviderPhysics(m), at: time, bounceBelow: Self.bounceThreshold(hardBounceRate), using: &rng)
    }

    /// The draw below which an attempt is an unknown user: `Double.random(in: 0..<1) <
    /// rate` in integers (that draw is the low 53 bits of `next()` × 2⁻⁵³), the same
    /// outcome for the same generator state.
    static func bounceThreshold(_ rate: Double) -> UInt64 {
        rate >= 1 ? 1 << 53 : rate <= 0 ? 0 : UInt64((rate * 0x1p53).rounded(.up))
    }

    /// As `attempt(_:at:hardBounceRate:using:)`, with the model's numbers unpacked once and
    /// the bounce rate as a `bounceThreshold`.
    mutating func attempt(_ m: ProviderPhysics, at time: Int64, bounceBelow: UInt64, using rng: inout some RandomNumberGenerator) -> Outcome {
        hourAttempts += 1
        dayAttempted += 1
        if !capacityKnown {
            capacity = m.capacity(reputation: reputation)
            capacityKnown = true
        }
        let cap = capacity
        if blockedUntil > time { return .blocked(newEpisode: false) }
        if Double(hourAttempts) > cap * m.blockFactor {
            blockedUntil = time &+ Int64(saturating: m.blockHours * 3600 * 1e9)
            reputation = max(0, reputation - m.blockPenalty)
            return .blocked(newEpisode: true)
        }
        if Double(hourAccepted) >= cap * (1 + m.tolerance) {
            dayThrottled += 1
            return .throttled
        }
        hourAccepted += 1
        dayAccepted += 1
        if rng.next() & ((1 << 53) - 1) < bounceBelow {
            dayBounced += 1
            return .userUnknown
        }
        return .accepted
    }

    /// The daily judgement: use of capacity with clean feedback raises the reputation,
    /// throttles and idleness lower it.
    public mutating func endDay(_ m: ProviderModel, complaintRate: Double) {
        let cap = m.capacity(reputation: reputation)
        let u = min(1, Double(dayAccepted) / (24 * cap))
        let bounceRate = dayAccepted > 0 ? Double(dayBounced) / Double(dayAccepted) : 0
        let q = max(0, 1 - m.complaintSensitivity! * (dayAccepted > 0 ? complaintRate : 0) - m.bounceSensitivity! * bounceRate)
        reputation += m.growthPerDay! * u * q
            - m.throttlePenalty! * Double(dayThrottled) / Double(max(dayAttempted, 1))
            - m.idleDecayPerDay! * max(0, m.idleThreshold! - u) / m.idleThreshold!
        reputation = min(1, max(0, reputation))
        dayAccepted = 0
        dayAttempted = 0
        dayThrottled = 0
        dayBounced = 0
    }

    public var isBlocked: Bool { blockedUntil > .min }
}

/// The numbers of a `ProviderModel` an attempt reads, unpacked (no optionals, no strings).
struct ProviderPhysics: Sendable {
    var cold: Double
    var warm: Double
    var tolerance: Double
    var blockFactor: Double
    var blockHours: Double
    var blockPenalty: Double

    init(_ m: ProviderModel) {
        cold = m.coldHourly!
        warm = m.warmHourly!
        tolerance = m.tolerance!
        blockFactor = m.blockFactor!
        blockHours = m.blockHours!
        blockPenalty = m.blockPenalty!
    }

    func capacity(reputation r: Double) -> Double { cold * pow(warm / cold, r) }
}

extension ProviderModel {
    /// `cap(r) = coldHourly × (warmHourly / coldHourly)^r`.
    public func capacity(reputation r: Double) -> Double {
        coldHourly! * pow(warmHourly! / coldHourly!, r)
    }
}

import Glibc
