/// The simulation's files: a CSV of days per strategy, and SVG charts.
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

    static let colors = ["#4285F4", "#00A4EF", "#7E1FFF", "#A2AAAD", "#F4B400", "#0F9D58", "#DB4437", "#795548"]

    /// Charts for the strategies side by side: daily volume per provider split by route
    /// (dedicated solid, shared hatched lighter), warm-up % per provider, throttles and
    /// blocks per day.
    public static func svg(_ results: [SimulationResult], title: String) -> String {
        let panelWidth = 420.0, panelHeight = 180.0, margin = 50.0
        let rows = ["Daily volume (dark: dedicated IPs, light: shared relay)", "Mean warm-up % per provider", "Throttles (bars) and blocks (red) per day"]
        let width = margin + Double(results.count) * (panelWidth + margin)
        let height = 60 + Double(rows.count) * (panelHeight + 60)
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(saturating: width))\" height=\"\(Int(saturating: height))\" font-family=\"sans-serif\" font-size=\"11\">\n"
        svg += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"\(margin)\" y=\"24\" font-size=\"16\">\(escape(title))</text>\n"
        let providers = Array(Set(results.flatMap { $0.days.map(\.provider) })).sorted()
        for (index, provider) in providers.enumerated() {
            let x = width - 140, y = 14 + Double(index) * 14
            svg += "<rect x=\"\(x)\" y=\"\(y - 9)\" width=\"10\" height=\"10\" fill=\"\(colors[index % colors.count])\"/><text x=\"\(x + 14)\" y=\"\(y)\">\(escape(provider))</text>\n"
        }
        let maxVolume = max(1, results.flatMap { r in Dictionary(grouping: r.days, by: \.day).values.map { $0.reduce(0) { $0 + $1.dedicated + $1.spilled } } }.max() ?? 1)
        let maxThrottle = max(1, results.flatMap { r in Dictionary(grouping: r.days, by: \.day).values.map { $0.reduce(0) { $0 + $1.throttled + $1.blocked } } }.max() ?? 1)
        for (column, result) in results.enumerated() {
            let x0 = margin + Double(column) * (panelWidth + margin)
            let days = (result.days.map(\.day).max() ?? 0) + 1
            let barWidth = panelWidth / Double(days)
            for (row, label) in rows.enumerated() {
                let y0 = 60 + Double(row) * (panelHeight + 60)
                svg += "<text x=\"\(x0)\" y=\"\(y0 - 8)\" font-weight=\"bold\">\(escape(result.strategy.description)): \(escape(label))</text>\n"
                svg += "<rect x=\"\(x0)\" y=\"\(y0)\" width=\"\(panelWidth)\" height=\"\(panelHeight)\" fill=\"none\" stroke=\"#ccc\"/>\n"
                svg += "<text x=\"\(x0)\" y=\"\(y0 + panelHeight + 14)\">day 0</text><text x=\"\(x0 + panelWidth - 40)\" y=\"\(y0 + panelHeight + 14)\">day \(days - 1)</text>\n"
                for day in 0..<days {
                    let rowsOfDay = result.days.filter { $0.day == day }
                    let x = x0 + Double(day) * barWidth
                    switch row {
                    case 0:
                        var y = y0 + panelHeight
                        for (index, provider) in providers.enumerated() {
                            guard let d = rowsOfDay.first(where: { $0.provider == provider }) else { continue }
                            for (value, opacity) in [(d.dedicated, 1.0), (d.spilled, 0.35)] where value > 0 {
                                let h = Double(value) / Double(maxVolume) * panelHeight
                                y -= h
                                svg += "<rect x=\"\(fmt(x))\" y=\"\(fmt(y))\" width=\"\(fmt(max(barWidth - 0.5, 0.5)))\" height=\"\(fmt(h))\" fill=\"\(colors[index % colors.count])\" fill-opacity=\"\(opacity)\"/>\n"
                            }
                        }
                    case 1:
                        break
                    default:
                        let throttled = rowsOfDay.reduce(0) { $0 + $1.throttled }, blocked = rowsOfDay.reduce(0) { $0 + $1.blocked }
                        let ht = Double(throttled) / Double(maxThrottle) * panelHeight, hb = Double(blocked) / Double(maxThrottle) * panelHeight
                        if throttled > 0 { svg += "<rect x=\"\(fmt(x))\" y=\"\(fmt(y0 + panelHeight - ht))\" width=\"\(fmt(max(barWidth - 0.5, 0.5)))\" height=\"\(fmt(ht))\" fill=\"#F4B400\"/>\n" }
                        if blocked > 0 { svg += "<rect x=\"\(fmt(x))\" y=\"\(fmt(y0 + panelHeight - ht - hb))\" width=\"\(fmt(max(barWidth - 0.5, 0.5)))\" height=\"\(fmt(hb))\" fill=\"#DB4437\"/>\n" }
                    }
                }
                if row == 1 {
                    for (index, provider) in providers.enumerated() {
                        let points = result.days.filter { $0.provider == provider }.sorted { $0.day < $1.day }.map { d in
                            "\(fmt(x0 + (Double(d.day) + 0.5) * barWidth)),\(fmt(y0 + panelHeight - d.warmupPercent / 100 * panelHeight))"
                        }.joined(separator: " ")
                        svg += "<polyline points=\"\(points)\" fill=\"none\" stroke=\"\(colors[index % colors.count])\" stroke-width=\"1.5\"/>\n"
                    }
                    svg += "<text x=\"\(x0 - 30)\" y=\"\(y0 + 8)\">100%</text><text x=\"\(x0 - 20)\" y=\"\(y0 + panelHeight)\">0%</text>\n"
                }
                if row == 0 { svg += "<text x=\"\(x0 - 48)\" y=\"\(y0 + 8)\">\(maxVolume)</text>\n" }
                if row == 2 { svg += "<text x=\"\(x0 - 48)\" y=\"\(y0 + 8)\">\(maxThrottle)</text>\n" }
            }
        }
        return svg + "</svg>\n"
    }

    static func fmt(_ value: Double) -> String {
        let scaled = Int(saturating: (value * 10).rounded())
        return "\(scaled / 10).\(abs(scaled % 10))"
    }

    static func escape(_ text: String) -> String {
        text.replacingAll("&", with: "&amp;").replacingAll("<", with: "&lt;").replacingAll(">", with: "&gt;")
    }
}

extension String {
    func replacingAll(_ target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
