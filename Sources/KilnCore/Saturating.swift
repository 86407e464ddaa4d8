/// Conversions of a `Double` (read from a configuration, a scenario, or computed from
/// one) into integers and durations that never trap: Swift's `Int64(_:)` stops the
/// process ("Not enough bits to represent the passed value") for NaN, infinities and
/// anything outside the integer's range. Values are validated where they are read; these
/// conversions are the second line, for arithmetic that a validated value still
/// overflows (an hourly rate of 1e-3 is 3.6e15 ns between tokens).
///
/// | value | `Int64(saturating:)` |
/// |---|---|
/// | 1.9 | 1 (toward zero) |
/// | 1e19, +inf | `Int64.max` |
/// | -1e300, -inf | `Int64.min` |
/// | NaN | 0 |
extension Int64 {
    /// `value` rounded toward zero and clamped into `Int64.min...Int64.max`; 0 for NaN.
    public init(saturating value: Double) {
        if value.isNaN {
            self = 0
        } else if value >= 9_223_372_036_854_775_808.0 {  // 2^63: Double(Int64.max) rounds up to it
            self = .max
        } else if value <= -9_223_372_036_854_775_808.0 {
            self = .min
        } else {
            self = Int64(value)
        }
    }

    /// Like `init(saturating:)`, but nil for NaN (for callers that must report it).
    public init?(checkedSaturating value: Double) {
        guard !value.isNaN else { return nil }
        self.init(saturating: value)
    }
}

extension Int {
    /// `value` rounded toward zero and clamped into `Int`'s range; 0 for NaN.
    public init(saturating value: Double) {
        self = Int(truncatingIfNeeded: Int64(saturating: value))
    }
}

extension Duration {
    /// `seconds` as a duration in whole nanoseconds, clamped to about ±292 years
    /// (`Int64` nanoseconds); 0 for NaN. `Duration.seconds(_: Double)` traps beyond
    /// about 1.7e20 seconds; this never does.
    public static func saturatingSeconds(_ seconds: Double) -> Duration {
        .nanoseconds(Int64(saturating: seconds * 1e9))
    }
}
