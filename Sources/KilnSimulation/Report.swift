/// The simulation's files: a CSV of days per strategy, and SVG charts (`Report+Charts.swift`).
public enum SimulationReport {
    public static let csvHeader = "day,provider,demand,dedicated,spilled,backlog,throttled,blocked,expired,bounced,warmup_percent,ips"

    /// One line per day and provider.
    public static func csv(_ result: SimulationResult) -> String {
        var out = csvHeader + "\n"
        for d in result.days {
            out += "\(d.day),\(d.provider),\(d.demand),\(d.dedicated),\(d.spilled),\(d.backlog),\(d.throttled),\(d.blocked),\(d.expired),\(d.bounced),"
                + "\(oneDecimal(d.warmupPercent)),\(d.ips)\n"
        }
        return out
    }

    /// `x` with one decimal, the sign before the whole number (`-21.2`, not `-21.-2`).
    public static func oneDecimal(_ x: Double) -> String {
        let tenths = Int(saturating: (x * 10).rounded())
        let magnitude = tenths.magnitude
        return "\(tenths < 0 ? "-" : "")\(magnitude / 10).\(magnitude % 10)"
    }
}

extension String {
    func replacingAll(_ target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
