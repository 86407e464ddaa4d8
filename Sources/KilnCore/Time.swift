/// A point in wall-clock time as integer nanoseconds since the Unix epoch. The core never
/// reads a clock: every decision takes `now:`.
public struct Timestamp: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public var nanoseconds: Int64
    public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }
    public init(seconds: Double) { self.nanoseconds = Int64(saturating: seconds * 1e9) }
    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.nanoseconds < rhs.nanoseconds }
    /// Saturating: a time beyond the year 2262 is `Int64.max` nanoseconds, never a wrap
    /// into the past.
    public static func + (lhs: Self, rhs: Duration) -> Self {
        let (sum, overflow) = lhs.nanoseconds.addingReportingOverflow(rhs.nanoseconds)
        return Self(nanoseconds: overflow ? (rhs.nanoseconds > 0 ? .max : .min) : sum)
    }
    public static func - (lhs: Self, rhs: Duration) -> Self {
        let (difference, overflow) = lhs.nanoseconds.subtractingReportingOverflow(rhs.nanoseconds)
        return Self(nanoseconds: overflow ? (rhs.nanoseconds > 0 ? .min : .max) : difference)
    }
    public static func - (lhs: Self, rhs: Self) -> Duration { .nanoseconds(lhs.nanoseconds &- rhs.nanoseconds) }
    public var seconds: Double { Double(nanoseconds) / 1e9 }
    public var description: String { String(format2: seconds) }
}

extension Duration {
    /// The duration in whole nanoseconds (saturating).
    public var nanoseconds: Int64 {
        let (s, atto) = components
        let (product, overflow) = s.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return s < 0 ? .min : .max }
        return product &+ atto / 1_000_000_000
    }
    public var secondsDouble: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

extension String {
    init(format2 value: Double) {
        let scaled = (value * 1000).rounded() / 1000
        self = "\(scaled)"
    }
}
