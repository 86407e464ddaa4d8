/// A rectangle of a chart, in SVG user units (y grows downwards).
struct ChartRect: Sendable {
    var x: Double
    var y: Double
    var width: Double
    var height: Double
    var maxX: Double { x + width }
    var maxY: Double { y + height }
}

/// A linear axis with round ticks: the range covers the data and ends on a tick.
///
/// The step is 1, 2, 2.5 or 5 times a power of ten, the smallest that gives at most
/// `ticks` intervals: 0…200,119 gives 0, 50k, …, 250k; 0…2,963 gives 0, 500, …, 3k.
struct ChartAxis: Sendable {
    var lower: Double
    var upper: Double
    var step: Double

    /// - Parameters:
    ///   - lower, upper: the data's range (`upper` ≤ `lower` gives one step above `lower`).
    ///   - ticks: the most intervals wanted.
    ///   - integral: a step of at least 1 (for counts).
    init(_ lower: Double, _ upper: Double, ticks: Int = 5, integral: Bool = false) {
        let span = upper > lower ? upper - lower : max(abs(lower), 1)
        var step = Self.roundStep(span / Double(max(1, ticks)))
        if integral { step = max(1, step.rounded(.up)) }
        self.step = step
        self.lower = (lower / step).rounded(.down) * step
        let top = (upper / step).rounded(.up) * step
        self.upper = top > self.lower ? top : self.lower + step
    }

    /// The smallest of 1, 2, 2.5, 5 × 10ⁿ that is at least `raw`.
    static func roundStep(_ raw: Double) -> Double {
        guard raw.isFinite, raw > 0 else { return 1 }
        var power = 1.0
        while power * 10 <= raw { power *= 10 }
        while power > raw { power /= 10 }
        for factor in [1, 2, 2.5, 5, 10] where factor * power >= raw { return factor * power }
        return 10 * power
    }

    var ticks: [Double] {
        let count = Int(((upper - lower) / step).rounded())
        return (0...count).map { lower + Double($0) * step }
    }

    /// Where `value` falls, from 0 (`lower`) to 1 (`upper`), clamped to the axis.
    func fraction(_ value: Double) -> Double {
        guard value.isFinite else { return value > 0 ? 1 : 0 }
        return (min(upper, max(lower, value)) - lower) / (upper - lower)
    }
}

/// Numbers and text as the charts print them.
enum ChartText {
    /// `value` with `places` decimals, the sign in front (`-0.5`, not `0.5` or `-0.-5`).
    static func decimal(_ value: Double, places: Int) -> String {
        var scale = 1
        for _ in 0..<places { scale *= 10 }
        let scaled = Int(saturating: (value * Double(scale)).rounded())
        let magnitude = scaled.magnitude
        let whole = "\(scaled < 0 ? "-" : "")\(magnitude / UInt(scale))"
        guard places > 0 else { return whole }
        let fraction = String(magnitude % UInt(scale))
        return whole + "." + String(repeating: "0", count: places - fraction.count) + fraction
    }

    /// A coordinate: one decimal.
    static func coordinate(_ value: Double) -> String { decimal(value, places: 1) }

    /// A count for an axis: `950`, `2.5k`, `200k`, `1.2M`: never more than four characters
    /// of digits, so a label cannot run into its neighbour.
    static func count(_ value: Double) -> String {
        let sign = value < 0 ? "-" : ""
        let v = abs(value)
        func short(_ x: Double, _ suffix: String) -> String { sign + trimmed(decimal(x, places: x < 10 ? 1 : 0)) + suffix }
        if v >= 999_500 { return short(v / 1_000_000, "M") }
        if v >= 1_000 { return short(v / 1_000, "k") }
        if v == v.rounded() { return sign + decimal(v, places: 0) }
        return sign + trimmed(decimal(v, places: 2))
    }

    /// `value` with at most `places` decimals, trailing zeros dropped (`0.85`, `1`).
    static func ratio(_ value: Double, places: Int = 2) -> String { trimmed(decimal(value, places: places)) }

    /// A whole number with thousands separators (`200,119`).
    static func grouped(_ value: Int) -> String {
        let digits = String(value.magnitude)
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return (value < 0 ? "-" : "") + out
    }

    static func trimmed(_ text: String) -> String {
        guard text.contains(".") else { return text }
        var t = Substring(text)
        while t.last == "0" { t = t.dropLast() }
        if t.last == "." { t = t.dropLast() }
        return String(t)
    }

    static func escape(_ text: String) -> String {
        text.replacingAll("&", with: "&amp;").replacingAll("<", with: "&lt;").replacingAll(">", with: "&gt;").replacingAll("\"", with: "&quot;")
    }

    /// About how wide `text` is at `size` in a sans-serif font (for laying out legends).
    static func width(_ text: String, size: Double = 11) -> Double { Double(text.count) * size * 0.6 }
}

/// An SVG document built element by element. A panel is a `<g class="panel">` whose
/// `data-x`, `data-y`, `data-width` and `data-height` give its rectangle; what it plots is
/// drawn in a `<g class="marks">` clipped to that rectangle, and every value is clamped to
/// its axis first, so nothing plotted can leave the panel.
struct SVGCanvas {
    let width: Double
    let height: Double
    private var clips: [String] = []
    private var body = ""

    init(width: Double, height: Double) {
        self.width = width
        self.height = height
    }

    var document: String {
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(saturating: width.rounded(.up)))\" height=\"\(Int(saturating: height.rounded(.up)))\""
            + " font-family=\"sans-serif\" font-size=\"11\">\n"
        if !clips.isEmpty { svg += "<defs>\n" + clips.joined() + "</defs>\n" }
        svg += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        return svg + body + "</svg>\n"
    }

    enum Anchor: String { case start, middle, end }

    mutating func text(_ text: String, x: Double, y: Double, size: Double? = nil, bold: Bool = false, anchor: Anchor = .start, fill: String? = nil) {
        var attributes = "x=\"\(ChartText.coordinate(x))\" y=\"\(ChartText.coordinate(y))\""
        if let size { attributes += " font-size=\"\(ChartText.ratio(size, places: 1))\"" }
        if bold { attributes += " font-weight=\"bold\"" }
        if anchor != .start { attributes += " text-anchor=\"\(anchor.rawValue)\"" }
        if let fill { attributes += " fill=\"\(fill)\"" }
        body += "<text \(attributes)>\(ChartText.escape(text))</text>\n"
    }

    /// A rectangle from its corners, each rounded once: the far edge is the rounded corner.
    mutating func rect(x1: Double, y1: Double, x2: Double, y2: Double, fill: String, attributes: String = "") {
        body += Self.rect(x1: x1, y1: y1, x2: x2, y2: y2, fill: fill, attributes: attributes)
    }

    static func rect(x1: Double, y1: Double, x2: Double, y2: Double, fill: String, attributes: String = "") -> String {
        let (left, right) = (round1(min(x1, x2)), round1(max(x1, x2)))
        let (top, bottom) = (round1(min(y1, y2)), round1(max(y1, y2)))
        return "<rect x=\"\(ChartText.coordinate(left))\" y=\"\(ChartText.coordinate(top))\" width=\"\(ChartText.coordinate(right - left))\""
            + " height=\"\(ChartText.coordinate(bottom - top))\" fill=\"\(fill)\"\(attributes.isEmpty ? "" : " " + attributes)/>\n"
    }

    static func line(x1: Double, y1: Double, x2: Double, y2: Double, stroke: String, width: Double = 1, attributes: String = "") -> String {
        "<line x1=\"\(ChartText.coordinate(x1))\" y1=\"\(ChartText.coordinate(y1))\" x2=\"\(ChartText.coordinate(x2))\" y2=\"\(ChartText.coordinate(y2))\""
            + " stroke=\"\(stroke)\" stroke-width=\"\(ChartText.ratio(width, places: 1))\"\(attributes.isEmpty ? "" : " " + attributes)/>\n"
    }

    mutating func line(x1: Double, y1: Double, x2: Double, y2: Double, stroke: String, width: Double = 1, attributes: String = "") {
        body += Self.line(x1: x1, y1: y1, x2: x2, y2: y2, stroke: stroke, width: width, attributes: attributes)
    }

    static func polyline(_ points: [(x: Double, y: Double)], stroke: String, attributes: String = "") -> String {
        let text = points.map { "\(ChartText.coordinate($0.x)),\(ChartText.coordinate($0.y))" }.joined(separator: " ")
        return "<polyline points=\"\(text)\" fill=\"none\" stroke=\"\(stroke)\" stroke-width=\"1.5\"\(attributes.isEmpty ? "" : " " + attributes)/>\n"
    }

    /// A panel: `decorations` (grid, tick labels, title) as they are, `marks` clipped to `rect`.
    /// - Parameter data: more `data-` attributes (`[("strategy", "adaptive")]`).
    mutating func panel(id: String, rect: ChartRect, data: [(String, String)] = [], decorations: String, marks: String) {
        let clip = "clip-\(id)"
        clips.append("<clipPath id=\"\(clip)\"><rect x=\"\(ChartText.coordinate(rect.x))\" y=\"\(ChartText.coordinate(rect.y))\""
            + " width=\"\(ChartText.coordinate(rect.width))\" height=\"\(ChartText.coordinate(rect.height))\"/></clipPath>\n")
        var attributes = "class=\"panel\" id=\"\(id)\" data-x=\"\(ChartText.coordinate(rect.x))\" data-y=\"\(ChartText.coordinate(rect.y))\""
            + " data-width=\"\(ChartText.coordinate(rect.width))\" data-height=\"\(ChartText.coordinate(rect.height))\""
        for (key, value) in data { attributes += " data-\(key)=\"\(ChartText.escape(value))\"" }
        body += "<g \(attributes)>\n" + decorations + "<g class=\"marks\" clip-path=\"url(#\(clip))\">\n" + marks + "</g>\n"
            + Self.rect(x1: rect.x, y1: rect.y, x2: rect.maxX, y2: rect.maxY, fill: "none", attributes: "stroke=\"#bbb\"") + "</g>\n"
    }

    /// Horizontal grid lines and labels at `axis`'s ticks, left of `rect`.
    static func yGrid(_ axis: ChartAxis, in rect: ChartRect, label: (Double) -> String) -> String {
        var out = ""
        for tick in axis.ticks {
            let y = rect.maxY - axis.fraction(tick) * rect.height
            out += line(x1: rect.x, y1: y, x2: rect.maxX, y2: y, stroke: tick == 0 ? "#999" : "#e6e6e6")
            out += "<text x=\"\(ChartText.coordinate(rect.x - 5))\" y=\"\(ChartText.coordinate(y + 4))\" text-anchor=\"end\">\(ChartText.escape(label(tick)))</text>\n"
        }
        return out
    }

    /// Vertical grid lines and labels at `axis`'s ticks, below `rect`; `position` maps a
    /// tick to its x.
    static func xGrid(_ axis: ChartAxis, in rect: ChartRect, position: (Double) -> Double, label: (Double) -> String) -> String {
        var out = ""
        for tick in axis.ticks {
            let x = position(tick)
            guard x >= rect.x - 0.01, x <= rect.maxX + 0.01 else { continue }
            out += line(x1: x, y1: rect.y, x2: x, y2: rect.maxY, stroke: "#f0f0f0")
            out += line(x1: x, y1: rect.maxY, x2: x, y2: rect.maxY + 4, stroke: "#999")
            out += "<text x=\"\(ChartText.coordinate(x))\" y=\"\(ChartText.coordinate(rect.maxY + 15))\" text-anchor=\"middle\">\(ChartText.escape(label(tick)))</text>\n"
        }
        return out
    }

    static func round1(_ value: Double) -> Double { (value * 10).rounded() / 10 }
}
