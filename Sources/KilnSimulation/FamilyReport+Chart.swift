extension FamilyReport {
    /// The family's chart (`kiln simulate --random K --out DIR` writes it as `family.svg`),
    /// in three panels, one above the other:
    ///
    /// | panel     | plots                                                                  |
    /// |-----------|------------------------------------------------------------------------|
    /// | histogram | how many scenarios fall in each bin of adaptive / oracle (`adaptiveRatios`), with adaptive's p5 and median |
    /// | worst     | the five lowest adaptive / oracle (`worst`, as `worst-N.json`), as bars |
    /// | strategies| per strategy but the oracle: its ratio's min, p5, median and mean      |
    ///
    /// The panels are `<g class="panel">` with their rectangle in `data-` attributes, like
    /// `SimulationReport.svg`'s; what they plot is clamped to the axes and clipped.
    public func svg(title: String) -> String {
        let panelWidth = 560.0, right = 230.0
        let worstRatios = Array(adaptiveRatios.sorted().prefix(worst.count))
        let worstLabels = worst.enumerated().map { "worst-\($0.offset + 1): \($0.element.name ?? "unnamed")" }
        let lines = strategies.filter { $0.strategy != "oracle" }
        let left = max(70, ((worstLabels + lines.map(\.strategy)).map { ChartText.width($0) }.max() ?? 0) + 16)
        let width = max(left + panelWidth + right, left + ChartText.width(title, size: 16) + 20)
        let histogramHeight = 200.0, rowHeight = 24.0
        let worstRect = ChartRect(x: left, y: 104 + histogramHeight + 80, width: panelWidth, height: max(1, Double(worst.count)) * rowHeight + 8)
        let strategiesRect = ChartRect(x: left, y: worstRect.maxY + 80, width: panelWidth, height: max(1, Double(lines.count)) * rowHeight + 8)
        var canvas = SVGCanvas(width: width, height: strategiesRect.maxY + 50)
        canvas.text(title, x: left, y: 26, size: 16, bold: true)
        canvas.text("\(ChartText.grouped(scenarios)) scenarios, seed \(seed), \(days) days, wording \(wording ?? "known"); ratio = a strategy's dedicated share / the oracle's",
                    x: left, y: 48, fill: "#444")
        canvas.text("adaptive ahead of both fixed plans in \(ChartText.ratio(adaptiveAheadOfFixed * 100, places: 1))% of the scenarios", x: left, y: 64, fill: "#444")
        histogram(&canvas, ChartRect(x: left, y: 104, width: panelWidth, height: histogramHeight))
        worstBars(&canvas, worstRect, labels: worstLabels, ratios: worstRatios)
        strategyRanges(&canvas, strategiesRect, lines)
        return canvas.document
    }

    static let markerColor = "#D93025"

    private func histogram(_ canvas: inout SVGCanvas, _ rect: ChartRect) {
        let ratios = adaptiveRatios.filter(\.isFinite)
        let xAxis = ChartAxis(min(ratios.min() ?? 1, 0.8), max(ratios.max() ?? 1, 1), ticks: 12)
        let bins = max(1, Int(((xAxis.upper - xAxis.lower) / xAxis.step).rounded()))
        var counts = [Int](repeating: 0, count: bins)
        for ratio in ratios { counts[min(bins - 1, max(0, Int((ratio - xAxis.lower) / xAxis.step)))] += 1 }
        let yAxis = ChartAxis(0, Double(counts.max() ?? 0), ticks: 4, integral: true)
        func x(_ value: Double) -> Double { rect.x + xAxis.fraction(value) * rect.width }
        func y(_ value: Double) -> Double { rect.maxY - yAxis.fraction(value) * rect.height }
        var decorations = "<text x=\"\(ChartText.coordinate(rect.x))\" y=\"\(ChartText.coordinate(rect.y - 8))\" font-weight=\"bold\">"
            + "Adaptive / oracle: scenarios per bin of \(ChartText.ratio(xAxis.step, places: 3))</text>\n"
        decorations += SVGCanvas.yGrid(yAxis, in: rect, label: ChartText.count)
        decorations += SVGCanvas.xGrid(xAxis, in: rect, position: x, label: { ChartText.ratio($0) })
        decorations += "<text x=\"\(ChartText.coordinate(rect.maxX))\" y=\"\(ChartText.coordinate(rect.maxY + 29))\" text-anchor=\"end\" fill=\"#666\">adaptive / oracle</text>\n"
        var marks = ""
        for (bin, count) in counts.enumerated() where count > 0 {
            let lower = xAxis.lower + Double(bin) * xAxis.step
            marks += SVGCanvas.rect(x1: x(lower) + 1, y1: y(0), x2: x(lower + xAxis.step) - 1, y2: y(Double(count)), fill: ProviderPalette.color(for: "gmail"),
                                    attributes: "data-count=\"\(count)\"")
        }
        // adaptive's p5 and median, and the legend for them right of the panel.
        if let adaptive = strategies.first(where: { $0.strategy == "adaptive" }) {
            var legendY = rect.y + 10
            for (name, value, dash) in [("p5", adaptive.ratioToOracle.p5, "4 3"), ("median", adaptive.ratioToOracle.median, "")] {
                marks += SVGCanvas.line(x1: x(value), y1: rect.y, x2: x(value), y2: rect.maxY, stroke: Self.markerColor, width: 1.5,
                                        attributes: dash.isEmpty ? "" : "stroke-dasharray=\"\(dash)\"")
                decorations += SVGCanvas.line(x1: rect.maxX + 16, y1: legendY - 4, x2: rect.maxX + 40, y2: legendY - 4, stroke: Self.markerColor, width: 1.5,
                                              attributes: dash.isEmpty ? "" : "stroke-dasharray=\"\(dash)\"")
                decorations += "<text x=\"\(ChartText.coordinate(rect.maxX + 46))\" y=\"\(ChartText.coordinate(legendY))\">adaptive \(name) \(ChartText.decimal(value, places: 3))</text>\n"
                legendY += 18
            }
        }
        canvas.panel(id: "family-histogram", rect: rect, data: [("row", "histogram")], decorations: decorations, marks: marks)
    }

    private func worstBars(_ canvas: inout SVGCanvas, _ rect: ChartRect, labels: [String], ratios: [Double]) {
        let axis = ChartAxis(0, max(1, ratios.max() ?? 1), ticks: 5)
        func x(_ value: Double) -> Double { rect.x + axis.fraction(value) * rect.width }
        var decorations = "<text x=\"\(ChartText.coordinate(rect.x))\" y=\"\(ChartText.coordinate(rect.y - 8))\" font-weight=\"bold\">"
            + "The lowest adaptive / oracle (replay one with --scenario worst-N.json)</text>\n"
        decorations += SVGCanvas.xGrid(axis, in: rect, position: x, label: { ChartText.ratio($0) })
        var marks = ""
        if labels.isEmpty {
            decorations += "<text x=\"\(ChartText.coordinate(rect.x + rect.width / 2))\" y=\"\(ChartText.coordinate(rect.y + 18))\" text-anchor=\"middle\" fill=\"#888\">no scenarios</text>\n"
        }
        for (index, (label, ratio)) in zip(labels, ratios).enumerated() {
            let top = rect.y + 4 + Double(index) * 24
            marks += SVGCanvas.rect(x1: x(0), y1: top + 3, x2: x(ratio), y2: top + 19, fill: ProviderPalette.color(for: "gmail"))
            decorations += "<text x=\"\(ChartText.coordinate(rect.x - 6))\" y=\"\(ChartText.coordinate(top + 15))\" text-anchor=\"end\">\(ChartText.escape(label))</text>\n"
            decorations += "<text x=\"\(ChartText.coordinate(rect.maxX + 8))\" y=\"\(ChartText.coordinate(top + 15))\">\(ChartText.decimal(ratio, places: 3))</text>\n"
        }
        canvas.panel(id: "family-worst", rect: rect, data: [("row", "worst")], decorations: decorations, marks: marks)
    }

    private func strategyRanges(_ canvas: inout SVGCanvas, _ rect: ChartRect, _ lines: [StrategyLine]) {
        let values = lines.flatMap { [$0.ratioToOracle.min, $0.ratioToOracle.mean, $0.ratioToOracle.median] }.filter(\.isFinite)
        let axis = ChartAxis(min(0, values.min() ?? 0), max(1, values.max() ?? 1), ticks: 5)
        func x(_ value: Double) -> Double { rect.x + axis.fraction(value) * rect.width }
        var decorations = "<text x=\"\(ChartText.coordinate(rect.x))\" y=\"\(ChartText.coordinate(rect.y - 8))\" font-weight=\"bold\">"
            + "Ratio to the oracle per strategy: min to median (dot), p5 (ring), mean (bar)</text>\n"
        decorations += SVGCanvas.xGrid(axis, in: rect, position: x, label: { ChartText.ratio($0) })
        var marks = ""
        for (index, line) in lines.enumerated() {
            let middle = rect.y + 4 + Double(index) * 24 + 11
            let r = line.ratioToOracle
            marks += SVGCanvas.line(x1: x(r.min), y1: middle, x2: x(r.median), y2: middle, stroke: "#888", width: 2)
            marks += "<circle cx=\"\(ChartText.coordinate(x(r.p5)))\" cy=\"\(ChartText.coordinate(middle))\" r=\"4\" fill=\"white\" stroke=\"#333\" stroke-width=\"1.5\"/>\n"
            marks += "<circle cx=\"\(ChartText.coordinate(x(r.median)))\" cy=\"\(ChartText.coordinate(middle))\" r=\"4.5\" fill=\"#333\"/>\n"
            marks += SVGCanvas.line(x1: x(r.mean), y1: middle - 7, x2: x(r.mean), y2: middle + 7, stroke: Self.markerColor, width: 2)
            decorations += "<text x=\"\(ChartText.coordinate(rect.x - 6))\" y=\"\(ChartText.coordinate(middle + 4))\" text-anchor=\"end\">\(ChartText.escape(line.strategy))</text>\n"
            decorations += "<text x=\"\(ChartText.coordinate(rect.maxX + 8))\" y=\"\(ChartText.coordinate(middle + 4))\">median \(ChartText.decimal(r.median, places: 3)), p5 \(ChartText.decimal(r.p5, places: 3))</text>\n"
        }
        canvas.panel(id: "family-strategies", rect: rect, data: [("row", "strategies")], decorations: decorations, marks: marks)
    }
}
