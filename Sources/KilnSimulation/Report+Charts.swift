extension SimulationReport {
    /// The throttle and block bars' colours (no provider in `ProviderPalette` has them).
    static let throttleColor = "#FB8C00"
    static let blockColor = "#D93025"

    /// Charts for the strategies side by side, a column each, in three rows:
    ///
    /// | row      | plots                                                   | scale                          |
    /// |----------|---------------------------------------------------------|--------------------------------|
    /// | volume   | messages a day per provider, stacked; dedicated IPs solid, shared relay light | one for every strategy (the demand is the same) |
    /// | warm-up  | the mean warm-up level per provider, in % (0 % the profile's cold rate, 100 % its warm rate; the level runs from -1 to 2) | each strategy's own, at least 0–100 % |
    /// | throttles| throttles and, above them, blocks per day               | each strategy's own (adaptive's few throttles vanish beside `none`'s thousands) |
    ///
    /// Providers keep their `ProviderPalette` colour whatever the scenario's mix. Each panel
    /// is a `<g class="panel">` with its rectangle in `data-x`, `data-y`, `data-width` and
    /// `data-height`, its `data-strategy`, `data-row` and the top of its axis (`data-y-max`);
    /// what it plots is clamped to its axis and clipped to the rectangle. Every mark and
    /// legend swatch of a provider carries `data-provider`.
    public static func svg(_ results: [SimulationResult], title: String) -> String {
        let panelWidth = 420.0, panelHeight = 180.0, left = 64.0, gap = 80.0, right = 30.0
        let providers = ProviderPalette.ordered(results.flatMap { $0.days.map(\.provider) })
        var legend: [(color: String, label: String, provider: String?)] = providers.map { (ProviderPalette.color(for: $0), $0, $0) }
        legend += [(throttleColor, "throttles", nil), (blockColor, "blocks", nil)]
        let routes = "volume bars: solid = dedicated IPs, light = shared relay"

        let columnsWidth = Double(results.count) * panelWidth + Double(max(0, results.count - 1)) * gap
        let width = max(left + columnsWidth + right, left + ChartText.width(title, size: 16) + right, 600)
        // The legend: a row (wrapped when needed) of its own under the title, above every panel.
        var legendItems: [(x: Double, y: Double, item: (color: String, label: String, provider: String?))] = []
        var lx = left, ly = 50.0
        for item in legend + [("", routes, nil)] {
            let itemWidth = (item.color.isEmpty ? 0 : 14) + ChartText.width(item.label) + 18
            if lx + itemWidth > width - right, lx > left {
                lx = left
                ly += 18
            }
            legendItems.append((lx, ly, item))
            lx += itemWidth
        }
        let headerY = ly + 32
        let firstRowY = headerY + 30
        let rowPitch = panelHeight + 70
        let rows = ["Daily volume per provider", "Mean warm-up level per provider", "Throttles and blocks per day (own scale)"]
        var canvas = SVGCanvas(width: width, height: firstRowY + Double(rows.count) * rowPitch - 20)
        canvas.text(title, x: left, y: 26, size: 16, bold: true)
        for entry in legendItems {
            guard !entry.item.color.isEmpty else {
                canvas.text(entry.item.label, x: entry.x, y: entry.y, fill: "#444")
                continue
            }
            let provider = entry.item.provider.map { " data-provider=\"\(ChartText.escape($0))\"" } ?? ""
            canvas.rect(x1: entry.x, y1: entry.y - 9, x2: entry.x + 10, y2: entry.y + 1, fill: entry.item.color, attributes: "class=\"legend\"" + provider)
            canvas.text(entry.item.label, x: entry.x + 14, y: entry.y)
        }

        let perDay = results.map { result in Dictionary(grouping: result.days, by: \.day) }
        let volumeAxis = ChartAxis(0, Double(perDay.flatMap { $0.values.map { $0.reduce(0) { $0 + $1.dedicated + $1.spilled } } }.max() ?? 0),
                                   ticks: 5, integral: true)
        for (column, result) in results.enumerated() {
            let x0 = left + Double(column) * (panelWidth + gap)
            let days = (result.days.map(\.day).max() ?? 0) + 1
            let dayWidth = panelWidth / Double(days)
            let name = result.strategy.description
            let slug = name.replacingAll(":", with: "-")
            canvas.text(name, x: x0, y: headerY, size: 14, bold: true)
            let dayAxis = ChartAxis(0, Double(max(1, days - 1)), ticks: 6, integral: true)
            for (row, label) in rows.enumerated() {
                let rect = ChartRect(x: x0, y: firstRowY + Double(row) * rowPitch, width: panelWidth, height: panelHeight)
                func y(_ axis: ChartAxis, _ value: Double) -> Double { rect.maxY - axis.fraction(value) * rect.height }
                var decorations = "<text x=\"\(ChartText.coordinate(rect.x))\" y=\"\(ChartText.coordinate(rect.y - 8))\" font-weight=\"bold\">\(ChartText.escape(label))</text>\n"
                decorations += SVGCanvas.xGrid(dayAxis, in: rect, position: { rect.x + ($0 + 0.5) * dayWidth }, label: { ChartText.decimal($0, places: 0) })
                decorations += "<text x=\"\(ChartText.coordinate(rect.maxX))\" y=\"\(ChartText.coordinate(rect.maxY + 29))\" text-anchor=\"end\" fill=\"#666\">day</text>\n"
                var marks = ""
                var yMax = volumeAxis.upper
                switch row {
                case 0:
                    decorations += SVGCanvas.yGrid(volumeAxis, in: rect, label: ChartText.count)
                    for (day, records) in perDay[column].sorted(by: { $0.key < $1.key }) {
                        let x = rect.x + Double(day) * dayWidth
                        var stacked = 0
                        for provider in providers {
                            guard let d = records.first(where: { $0.provider == provider }) else { continue }
                            for (value, opacity) in [(d.dedicated, 1.0), (d.spilled, 0.35)] where value > 0 {
                                marks += SVGCanvas.rect(x1: x, y1: y(volumeAxis, Double(stacked)), x2: x + max(dayWidth - 0.5, 0.5), y2: y(volumeAxis, Double(stacked + value)),
                                                        fill: ProviderPalette.color(for: provider),
                                                        attributes: "fill-opacity=\"\(ChartText.ratio(opacity))\" data-provider=\"\(ChartText.escape(provider))\"")
                                stacked += value
                            }
                        }
                    }
                case 1:
                    let values = result.days.map(\.warmupPercent).filter(\.isFinite)
                    let axis = ChartAxis(min(0, values.min() ?? 0), max(100, values.max() ?? 100), ticks: 4)
                    yMax = axis.upper
                    // Lines run 3 units inside the frame, so that one on an axis end stays whole.
                    let plot = ChartRect(x: rect.x, y: rect.y + 3, width: rect.width, height: rect.height - 6)
                    decorations += SVGCanvas.yGrid(axis, in: plot) { "\(ChartText.ratio($0, places: 0))%" }
                    if let first = values.first, values.allSatisfy({ $0 == first }) {
                        // Where the line is not: above it, or below one at the top.
                        let noteY = axis.fraction(first) > 0.5 ? rect.maxY - 12 : rect.y + 20
                        decorations += "<text x=\"\(ChartText.coordinate(rect.x + rect.width / 2))\" y=\"\(ChartText.coordinate(noteY))\""
                            + " text-anchor=\"middle\" fill=\"#888\">every provider at \(ChartText.ratio(first, places: 1))% every day</text>\n"
                    }
                    for provider in providers {
                        let points = result.days.filter { $0.provider == provider }.sorted { $0.day < $1.day }.map { d in
                            (x: rect.x + (Double(d.day) + 0.5) * dayWidth, y: plot.maxY - axis.fraction(d.warmupPercent) * plot.height)
                        }
                        guard !points.isEmpty else { continue }
                        marks += SVGCanvas.polyline(points, stroke: ProviderPalette.color(for: provider), attributes: "data-provider=\"\(ChartText.escape(provider))\"")
                    }
                default:
                    let totals = perDay[column].mapValues { records in
                        (throttled: records.reduce(0) { $0 + $1.throttled }, blocked: records.reduce(0) { $0 + $1.blocked })
                    }
                    let most = totals.values.map { $0.throttled + $0.blocked }.max() ?? 0
                    let axis = ChartAxis(0, Double(most), ticks: 4, integral: true)
                    yMax = axis.upper
                    decorations += SVGCanvas.yGrid(axis, in: rect, label: ChartText.count)
                    if most == 0 {
                        decorations += "<text x=\"\(ChartText.coordinate(rect.x + rect.width / 2))\" y=\"\(ChartText.coordinate(rect.y + rect.height / 2))\""
                            + " text-anchor=\"middle\" fill=\"#888\">no throttles or blocks</text>\n"
                    }
                    for (day, total) in totals.sorted(by: { $0.key < $1.key }) {
                        let x = rect.x + Double(day) * dayWidth, x2 = x + max(dayWidth - 0.5, 0.5)
                        if total.throttled > 0 {
                            marks += SVGCanvas.rect(x1: x, y1: y(axis, 0), x2: x2, y2: y(axis, Double(total.throttled)), fill: throttleColor)
                        }
                        if total.blocked > 0 {
                            marks += SVGCanvas.rect(x1: x, y1: y(axis, Double(total.throttled)), x2: x2, y2: y(axis, Double(total.throttled + total.blocked)), fill: blockColor)
                        }
                    }
                }
                canvas.panel(id: "p\(column)-\(slug)-\(["volume", "warmup", "throttles"][row])", rect: rect,
                             data: [("strategy", name), ("row", ["volume", "warmup", "throttles"][row]), ("y-max", ChartText.ratio(yMax, places: 3))], decorations: decorations, marks: marks)
            }
        }
        return canvas.document
    }
}
