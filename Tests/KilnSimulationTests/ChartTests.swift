import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import KilnSimulation
import Testing

/// What a chart's SVG holds, read back with an XML parser: its panels (`<g class="panel">`
/// with their rectangle in `data-` attributes), every point they plot, the texts, and the
/// colours of every element that names a provider (`data-provider`).
final class ChartReading: NSObject, XMLParserDelegate {
    struct Panel {
        var attributes: [String: String]
        var id: String { attributes["id"] ?? "" }
        var x: Double { Double(attributes["data-x"] ?? "") ?? .nan }
        var y: Double { Double(attributes["data-y"] ?? "") ?? .nan }
        var width: Double { Double(attributes["data-width"] ?? "") ?? .nan }
        var height: Double { Double(attributes["data-height"] ?? "") ?? .nan }
        /// The points of each polyline in the panel's clipped marks.
        var polylines: [[(x: Double, y: Double)]] = []
        /// Rect corners, circle centres and line ends in the marks.
        var points: [(element: String, x: Double, y: Double)] = []
        /// The marks' elements with their attributes.
        var marks: [(element: String, attributes: [String: String])] = []
        /// The texts outside the marks (title, tick labels, notes).
        var texts: [String] = []

        func contains(_ point: (x: Double, y: Double)) -> Bool {
            point.x >= x - 1e-6 && point.x <= x + width + 1e-6 && point.y >= y - 1e-6 && point.y <= y + height + 1e-6
        }
    }

    private(set) var panels: [Panel] = []
    /// Per provider, the fill or stroke colours of the elements that name it.
    private(set) var colours: [String: Set<String>] = [:]
    /// The legend's swatches: (provider or nil, y, height).
    private(set) var legend: [(provider: String?, y: Double, height: Double)] = []
    private var groups: [String] = []
    private var current: Panel?
    private var text: String?

    static func read(_ svg: String) throws -> ChartReading {
        let reading = ChartReading()
        let parser = XMLParser(data: Data(svg.utf8))
        parser.delegate = reading
        guard parser.parse() else { throw parser.parserError ?? CocoaError(.fileReadCorruptFile) }
        return reading
    }

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
        func number(_ key: String) -> Double { Double(attributes[key] ?? "") ?? .nan }
        if name == "g" {
            let kind = attributes["class"] ?? ""
            groups.append(kind)
            if kind == "panel" { current = Panel(attributes: attributes) }
            return
        }
        if let provider = attributes["data-provider"], let colour = name == "polyline" ? attributes["stroke"] : attributes["fill"] {
            colours[provider, default: []].insert(colour)
        }
        if name == "rect", attributes["class"] == "legend" {
            legend.append((attributes["data-provider"], number("y"), number("height")))
        }
        if name == "text" { text = "" }
        guard groups.last == "marks", current != nil else { return }
        current!.marks.append((name, attributes))
        switch name {
        case "polyline":
            current!.polylines.append((attributes["points"] ?? "").split(separator: " ").map { pair in
                let xy = pair.split(separator: ",").map { Double($0) ?? .nan }
                return (x: xy.first ?? .nan, y: xy.count == 2 ? xy[1] : .nan)
            })
        case "rect":
            current!.points += [(name, number("x"), number("y")), (name, number("x") + number("width"), number("y") + number("height"))]
        case "circle":
            current!.points.append((name, number("cx"), number("cy")))
        case "line":
            current!.points += [(name, number("x1"), number("y1")), (name, number("x2"), number("y2"))]
        default:
            break
        }
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) { text? += string }

    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        if name == "text", let done = text {
            if current != nil, groups.last != "marks" { current!.texts.append(done) }
            text = nil
        }
        guard name == "g" else { return }
        if groups.popLast() == "panel", let panel = current {
            panels.append(panel)
            current = nil
        }
    }

    /// Panels whose marks leave their rectangle, with the first point outside.
    var escapes: [String] {
        panels.flatMap { panel in
            panel.polylines.flatMap { $0 }.filter { !panel.contains($0) }.prefix(1).map { "\(panel.id): polyline point \($0)" }
                + panel.points.filter { !panel.contains(($0.x, $0.y)) }.prefix(1).map { "\(panel.id): \($0.element) at \($0.x),\($0.y)" }
        }
    }
}

/// rsvg-convert (librsvg2-bin), which `make test-deps` installs: a PNG from each chart.
enum RSVG {
    static let path: String? = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        .map { "\($0)/rsvg-convert" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    /// KILN_REQUIRE_RSVG set: a missing rsvg-convert fails the tests instead of skipping them (CI sets it).
    static let required = ProcessInfo.processInfo.environment["KILN_REQUIRE_RSVG"] != nil
    static let runnable = path != nil || required

    /// Converts `svg` to a PNG; returns rsvg-convert's exit status, its standard error and the PNG's size.
    static func convert(_ svg: String, name: String, with rsvg: String) async throws -> (status: Int32, stderr: String, pngBytes: Int) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-chart-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let input = directory.appendingPathComponent("\(name).svg"), output = directory.appendingPathComponent("\(name).png")
        try Data(svg.utf8).write(to: input)
        let (status, stderr) = await offThePool { () -> (Int32, String) in
            let process = Process()
            process.executableURL = URL(fileURLWithPath: rsvg)
            process.arguments = ["-o", output.path, input.path]
            let errors = Pipe()
            process.standardError = errors
            do { try process.run() } catch { return (-1, "\(error)") }
            let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            return (process.terminationStatus, text)
        }
        let size = (try? FileManager.default.attributesOfItem(atPath: output.path))?[.size] as? Int
        return (status, stderr, size ?? 0)
    }
}

/// The simulator's charts: every line inside its panel, a colour per provider whatever the
/// mix, readable axes, a throttle scale per strategy, and a PNG from each.
@Suite struct ChartTests {
    /// The baseline scenario with every strategy (5 days: quick in a debug build, and `none`
    /// already blocks and sits at -100 % warm-up).
    static func baseline() async throws -> (results: [SimulationResult], svg: String) {
        var scenario = try Scenario.load(path: ScenarioTests.scenarios + "/baseline.json")
        scenario.days = 5
        let simulator = Simulator(scenario: scenario)
        let results = await offThePool { SimulationStrategy.all.map { simulator.run($0) } }
        return (results, SimulationReport.svg(results, title: "baseline: \(scenario.days) days"))
    }

    /// Twenty random scenarios of seed 5 (3 days, 2,000 to 5,000 a day), every family strategy.
    static func family() async -> (report: FamilyReport, svg: String) {
        let family = ScenarioFamily(seed: 5, days: 3, messagesPerDay: 2_000...5_000)
        let scenarios = family.scenarios(20)
        let results = await Simulator.runFamily(scenarios, workers: 2)
        let report = FamilyReport(seed: 5, days: family.days, scenarios: scenarios, results: results)
        return (report, report.svg(title: "kiln simulate --random 20 --seed 5 --days 3"))
    }

    static func small(_ mix: String, days: Int = 2) throws -> Scenario {
        try Scenario.load(json: Data("""
            {"seed": 3, "days": \(days), "demand": {"messagesPerDay": 3000, "hourlyProfile": "business"}, "mix": \(mix),
             "pool": {"initialIPs": 1, "minIPs": 1, "maxIPs": 2, "spillover": "whileWarming"}}
            """.utf8), source: "small")
    }

    @Test func baselineLinesAndBarsStayInsideTheirPanels() async throws {
        let (results, svg) = try await Self.baseline()
        let chart = try ChartReading.read(svg)
        #expect(chart.panels.count == 3 * results.count)
        #expect(Set(chart.panels.map(\.id)).count == chart.panels.count)
        let warmup = chart.panels.filter { $0.attributes["data-row"] == "warmup" }
        #expect(warmup.allSatisfy { $0.polylines.count == 5 }, "a warm-up line per provider and strategy")
        #expect(chart.panels.flatMap(\.points).count > 100)
        #expect(chart.escapes.isEmpty, "\(chart.escapes)")
        // Each mark group is clipped to its panel as well.
        #expect(svg.components(separatedBy: "<clipPath id=").count - 1 == chart.panels.count)
        // The `none` strategy sits at -100 %: its axis reaches down to it rather than the line leaving the panel.
        let none = try #require(warmup.first { $0.attributes["data-strategy"] == "none" })
        #expect(none.texts.contains("-100%"))
    }

    @Test func eachStrategyHasItsOwnThrottleScale() async throws {
        let (results, svg) = try await Self.baseline()
        let chart = try ChartReading.read(svg)
        var tops: [String: Double] = [:]
        for result in results {
            let most = Dictionary(grouping: result.days, by: \.day).values.map { $0.reduce(0) { $0 + $1.throttled + $1.blocked } }.max() ?? 0
            let panel = try #require(chart.panels.first { $0.attributes["data-row"] == "throttles" && $0.attributes["data-strategy"] == result.strategy.description })
            let top = try #require(Double(panel.attributes["data-y-max"] ?? ""))
            #expect(top >= Double(most) && top <= 2 * Double(max(most, 1)), "\(result.strategy): axis to \(top) for \(most)")
            tops[result.strategy.description] = top
        }
        // adaptive's few throttles a day are not flattened by `none`'s thousands of blocks.
        #expect((tops["adaptive"] ?? 0) * 10 < (tops["none"] ?? 0))
    }

    @Test func axisLabelsAreRoundAndShortAndTheLegendClearsThePanelTitles() async throws {
        let (_, svg) = try await Self.baseline()
        let chart = try ChartReading.read(svg)
        for panel in chart.panels {
            // No run of five digits anywhere: 200k, not 200119.
            #expect(panel.texts.allSatisfy { $0.range(of: #"\d{5}"#, options: .regularExpression) == nil }, "\(panel.id): \(panel.texts)")
        }
        let volume = try #require(chart.panels.first { $0.attributes["data-row"] == "volume" })
        let labels = volume.texts.filter { $0.range(of: #"^\d+(\.\d)?[kM]?$"#, options: .regularExpression) != nil && !$0.isEmpty }
        func value(_ label: String) -> Double {
            let scale = label.hasSuffix("M") ? 1e6 : label.hasSuffix("k") ? 1e3 : 1
            return (Double(label.trimmingCharacters(in: CharacterSet(charactersIn: "kM"))) ?? .nan) * scale
        }
        // The y labels (the day ticks are plain numbers below, so take the k ones and 0).
        let yLabels = labels.filter { $0.hasSuffix("k") || $0.hasSuffix("M") }
        #expect(yLabels.count >= 3, "\(volume.texts)")
        let steps = zip(yLabels.dropFirst(), yLabels).map { value($0) - value($1) }
        #expect(Set(steps).count == 1 && (steps.first ?? 0) > 0, "evenly spaced round ticks: \(yLabels)")
        #expect(value(yLabels.last ?? "") == Double(volume.attributes["data-y-max"] ?? ""))
        // The legend has a row of its own above every panel title (drawn 8 units above a panel).
        #expect(!chart.legend.isEmpty)
        let firstPanel = chart.panels.map(\.y).min() ?? 0
        #expect(chart.legend.allSatisfy { $0.y + $0.height < firstPanel - 8 - 14 }, "\(chart.legend) against \(firstPanel)")
    }

    /// gmail is Google blue in both charts, though apple comes first in one and gmail in the
    /// other; an id the table does not know has the same fallback colour every time.
    @Test func colorsFollowTheProviderNotItsPosition() async throws {
        let a = try Self.small(#"{"apple": 0.3, "gmail": 0.4, "microsoft": 0.3}"#)
        let b = try Self.small(#"{"zoho": 0.2, "gmail": 0.5, "yahoo": 0.3}"#)
        let (resultA, resultB) = await offThePool { (Simulator(scenario: a).run(.adaptive), Simulator(scenario: b).run(.adaptive)) }
        let chartA = try ChartReading.read(SimulationReport.svg([resultA], title: "a"))
        let chartB = try ChartReading.read(SimulationReport.svg([resultB], title: "b"))
        for chart in [chartA, chartB] {
            #expect(chart.colours.values.allSatisfy { $0.count == 1 }, "one colour per provider: \(chart.colours)")
            #expect(Set(chart.colours.values.compactMap(\.first)).count == chart.colours.count, "distinct: \(chart.colours)")
        }
        #expect(chartA.colours["gmail"] == ["#4285F4"])
        #expect(chartB.colours["gmail"] == ["#4285F4"])
        #expect(chartA.colours["apple"] == [ProviderPalette.color(for: "apple")])
        #expect(chartA.colours["microsoft"] == ["#00A4EF"])
        #expect(chartB.colours["yahoo"] == ["#7E1FFF"])
        // FNV-1a of "zoho" picks the last fallback colour, in this run and every other.
        #expect(chartB.colours["zoho"] == ["#00838F"])
        #expect(!ProviderPalette.known.map(\.color).contains("#00838F"))
        #expect(Set(chartA.legend.compactMap(\.provider)) == ["apple", "gmail", "microsoft"])
    }

    @Test func theFamilyChartShowsEveryScenarioAndTheWorst() async throws {
        let (report, svg) = await Self.family()
        let chart = try ChartReading.read(svg)
        #expect(chart.panels.map(\.id) == ["family-histogram", "family-worst", "family-strategies"])
        #expect(chart.escapes.isEmpty, "\(chart.escapes)")
        let histogram = chart.panels[0]
        let counted = histogram.marks.filter { $0.element == "rect" }.compactMap { Int($0.attributes["data-count"] ?? "") }.reduce(0, +)
        #expect(counted == report.scenarios)
        #expect(chart.panels[1].marks.filter { $0.element == "rect" }.count == report.worst.count)
        for (index, scenario) in report.worst.enumerated() {
            #expect(chart.panels[1].texts.contains("worst-\(index + 1): \(scenario.name ?? "unnamed")"))
        }
        #expect(chart.panels[2].texts.contains("adaptive"))
    }

    @Test(.enabled(if: RSVG.runnable, "rsvg-convert is missing: make test-deps installs librsvg2-bin (KILN_REQUIRE_RSVG=1 fails instead)"))
    func theBaselineChartsConvertToPNG() async throws {
        let rsvg = try #require(RSVG.path, "KILN_REQUIRE_RSVG is set but rsvg-convert is missing (apt-get install librsvg2-bin)")
        let (_, svg) = try await Self.baseline()
        let png = try await RSVG.convert(svg, name: "baseline", with: rsvg)
        #expect(png.status == 0, "\(png.stderr)")
        #expect(png.pngBytes > 1_000)
    }

    @Test(.enabled(if: RSVG.runnable, "rsvg-convert is missing: make test-deps installs librsvg2-bin (KILN_REQUIRE_RSVG=1 fails instead)"))
    func theFamilyChartConvertsToPNG() async throws {
        let rsvg = try #require(RSVG.path, "KILN_REQUIRE_RSVG is set but rsvg-convert is missing (apt-get install librsvg2-bin)")
        let (_, svg) = await Self.family()
        let png = try await RSVG.convert(svg, name: "family", with: rsvg)
        #expect(png.status == 0, "\(png.stderr)")
        #expect(png.pngBytes > 1_000)
    }
}
