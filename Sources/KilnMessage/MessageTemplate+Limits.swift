import KilnCore

extension MessageTemplate {
    /// The largest template part (subject, fromName, text, html), in bytes of UTF-8.
    public static let maxPartBytes = 1 << 20
    /// The deepest nesting of sections (`{{#…}}`, `{{^…}}`, blocks and parents). The
    /// Mustache parser recurses once per level: 3,000 levels overflow its stack.
    public static let maxSectionDepth = 100

    /// Refuses a part that is too large or nests sections too deep, before it reaches
    /// the parser, by a scan of its tags (following `{{=<% %>=}}` delimiter changes).
    /// - Parameter part: `text`, `html`, ... for the error's location `template.<part>`.
    static func checkShape(_ source: String, part: String) throws(KilnError) {
        let bytes = source.utf8
        guard bytes.count <= maxPartBytes else {
            throw KilnError(.invalidMessage, "the \(part) template is \(bytes.count) bytes; at most \(maxPartBytes)", location: "template.\(part)")
        }
        var open = Array("{{".utf8), close = Array("}}".utf8)
        let text = Array(bytes)
        var depth = 0, deepest = 0
        var i = 0
        while let start = find(open, in: text, from: i) {
            var contentStart = start + open.count
            var closing = close
            if open == Array("{{".utf8), contentStart < text.count, text[contentStart] == UInt8(ascii: "{") {
                contentStart += 1  // {{{name}}}
                closing = Array("}}}".utf8)
            }
            guard let end = find(closing, in: text, from: contentStart) else { break }
            let content = text[contentStart..<end].drop { $0 == 32 || $0 == 9 }
            switch content.first {
            case UInt8(ascii: "#"), UInt8(ascii: "^"), UInt8(ascii: "$"), UInt8(ascii: "<"):
                depth += 1
                deepest = max(deepest, depth)
                if depth > maxSectionDepth {
                    throw KilnError(.invalidMessage, "the \(part) template nests sections more than \(maxSectionDepth) deep", location: "template.\(part)")
                }
            case UInt8(ascii: "/"):
                depth = max(0, depth - 1)
            case UInt8(ascii: "="):
                // {{=<% %>=}}: the new delimiters, separated by whitespace.
                let inner = content.dropFirst().reversed().drop { $0 == 32 || $0 == 9 || $0 == UInt8(ascii: "=") }.reversed()
                let parts = inner.split(whereSeparator: { $0 == 32 || $0 == 9 })
                if parts.count == 2 { open = Array(parts[0]); close = Array(parts[1]) }
            default:
                break
            }
            i = end + closing.count
        }
    }

    static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard let first = needle.first, !needle.isEmpty, start < haystack.count else { return nil }
        var i = start
        while i + needle.count <= haystack.count {
            if haystack[i] == first, haystack[i..<i + needle.count].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }
}
