import KilnCore

/// A strict, small JSON checker run before `JSONDecoder`, for what the decoder accepts
/// silently or reports without a place ("The given data was not valid JSON"): invalid
/// UTF-8, duplicate keys in an object (the decoder keeps one), nesting deeper than
/// `maxDepth` (a stack overflow waiting to happen), numbers a `Double` cannot hold
/// (`1e400`, `1e-400`), and syntax errors. Every problem names its JSON path and its
/// line and column. It also lists the numbers that are not plain non-negative integers, so
/// that a decoder error about one of them can be traced to its path.
///
/// Pure: takes bytes, returns values; no Foundation.
public struct JSONScanner {
    /// A number of the input that some integer types cannot hold: a fraction, an
    /// exponent, a minus sign, or beyond 2^63 - 1.
    public struct InexactNumber: Sendable {
        /// `pools[0].warmupSchedule[2]`.
        public var path: String
        /// Where its text lies in the input.
        public var range: Range<Int>
        public var text: String
    }

    /// The deepest nesting of arrays and objects accepted (a configuration needs 4).
    public static let maxDepth = 64

    let bytes: [UInt8]
    var index = 0
    var path: [PathComponent] = []
    public private(set) var inexactNumbers: [InexactNumber] = []

    enum PathComponent {
        case key(String)
        case index(Int)
    }

    /// Checks `bytes`; throws the first problem.
    public static func scan(_ bytes: [UInt8]) throws(JSONScanError) -> [InexactNumber] {
        var scanner = JSONScanner(bytes: bytes)
        if let bad = firstInvalidUTF8(bytes) {
            throw scanner.error("invalid UTF-8 (byte 0x\(String(bytes[bad], radix: 16, uppercase: true)))", at: bad)
        }
        scanner.skipWhitespace()
        try scanner.value(depth: 0)
        scanner.skipWhitespace()
        if scanner.index < bytes.count { throw scanner.error("unexpected text after the end of the JSON value", at: scanner.index) }
        return scanner.inexactNumbers
    }

    /// The byte offset of the first byte that does not start a valid UTF-8 sequence.
    static func firstInvalidUTF8(_ bytes: [UInt8]) -> Int? {
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            if b < 0x80 { i += 1; continue }
            var length = 0, low: UInt8 = 0x80, high: UInt8 = 0xBF
            switch b {
            case 0xC2...0xDF: length = 2
            case 0xE0: length = 3; low = 0xA0
            case 0xE1...0xEC, 0xEE...0xEF: length = 3
            case 0xED: length = 3; high = 0x9F
            case 0xF0: length = 4; low = 0x90
            case 0xF1...0xF3: length = 4
            case 0xF4: length = 4; high = 0x8F
            default: return i
            }
            guard i + length <= bytes.count, (low...high).contains(bytes[i + 1]) else { return i }
            for k in 2..<length where !(0x80...0xBF).contains(bytes[i + k]) { return i }
            i += length
        }
        return nil
    }

    var pathText: String {
        var text = ""
        for component in path {
            switch component {
            case .key(let key): text += text.isEmpty ? key : ".\(key)"
            case .index(let i): text += "[\(i)]"
            }
        }
        return text
    }

    /// 1-based line and column (in characters) of a byte offset.
    public static func lineAndColumn(of offset: Int, in bytes: [UInt8]) -> (line: Int, column: Int) {
        var line = 1, column = 1
        for byte in bytes.prefix(offset) {
            if byte == 10 { line += 1; column = 1 } else if byte & 0xC0 != 0x80 { column += 1 }
        }
        return (line, column)
    }

    func error(_ message: String, at offset: Int) -> JSONScanError {
        let (line, column) = Self.lineAndColumn(of: offset, in: bytes)
        return JSONScanError(path: pathText, line: line, column: column, message: message)
    }

    mutating func skipWhitespace() {
        while index < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
    }

    mutating func value(depth: Int) throws(JSONScanError) {
        guard index < bytes.count else { throw error("unexpected end of the input", at: index) }
        switch bytes[index] {
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            guard depth < Self.maxDepth else { throw error("nested more than \(Self.maxDepth) deep", at: index) }
            if bytes[index] == UInt8(ascii: "{") { try object(depth: depth + 1) } else { try array(depth: depth + 1) }
        case UInt8(ascii: "\""): _ = try string(decode: false)
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try number()
        default: throw error("unexpected character '\(Unicode.Scalar(bytes[index]).escaped(asASCII: true))'", at: index)
        }
    }

    mutating func object(depth: Int) throws(JSONScanError) {
        index += 1
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") { index += 1; return }
        var seen: Set<String> = []
        while true {
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw error("expected a key in quotes", at: index) }
            let keyStart = index
            let key = try string(decode: true)
            path.append(.key(key))
            guard seen.insert(key).inserted else { throw error("duplicate key '\(key)'", at: keyStart) }
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw error("expected ':' after the key", at: index) }
            index += 1
            skipWhitespace()
            try value(depth: depth)
            path.removeLast()
            skipWhitespace()
            guard index < bytes.count else { throw error("unexpected end of the input in an object", at: index) }
            if bytes[index] == UInt8(ascii: "}") { index += 1; return }
            guard bytes[index] == UInt8(ascii: ",") else { throw error("expected ',' or '}'", at: index) }
            index += 1
            skipWhitespace()
        }
    }

    mutating func array(depth: Int) throws(JSONScanError) {
        index += 1
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") { index += 1; return }
        var count = 0
        while true {
            path.append(.index(count))
            try value(depth: depth)
            path.removeLast()
            count += 1
            skipWhitespace()
            guard index < bytes.count else { throw error("unexpected end of the input in an array", at: index) }
            if bytes[index] == UInt8(ascii: "]") { index += 1; return }
            guard bytes[index] == UInt8(ascii: ",") else { throw error("expected ',' or ']'", at: index) }
            index += 1
            skipWhitespace()
        }
    }

    mutating func literal(_ word: String) throws(JSONScanError) {
        let expected = Array(word.utf8)
        guard index + expected.count <= bytes.count, Array(bytes[index..<index + expected.count]) == expected else {
            throw error("unexpected text (expected \(word))", at: index)
        }
        index += expected.count
    }

    /// Reads a string; returns its decoded text when `decode` (keys), else "".
    mutating func string(decode: Bool) throws(JSONScanError) -> String {
        let start = index
        index += 1
        var scalars = String.UnicodeScalarView()
        var runStart = index
        func flush(_ end: Int) { if decode, end > runStart { scalars.append(contentsOf: String(decoding: bytes[runStart..<end], as: UTF8.self).unicodeScalars) } }
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                flush(index)
                index += 1
                return String(scalars)
            }
            if byte < 0x20 { throw error("a control character in a string (escape it)", at: index) }
            if byte == UInt8(ascii: "\\") {
                flush(index)
                guard index + 1 < bytes.count else { break }
                let escape = bytes[index + 1]
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): scalars.append(Unicode.Scalar(escape)); index += 2
                case UInt8(ascii: "b"): scalars.append("\u{8}"); index += 2
                case UInt8(ascii: "f"): scalars.append("\u{C}"); index += 2
                case UInt8(ascii: "n"): scalars.append("\n"); index += 2
                case UInt8(ascii: "r"): scalars.append("\r"); index += 2
                case UInt8(ascii: "t"): scalars.append("\t"); index += 2
                case UInt8(ascii: "u"):
                    var unit = try hex4(at: index + 2)
                    index += 6
                    if (0xD800...0xDBFF).contains(unit), index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") {
                        let low = try hex4(at: index + 2)
                        if (0xDC00...0xDFFF).contains(low) {
                            unit = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                            index += 6
                        }
                    }
                    scalars.append(Unicode.Scalar(unit) ?? "\u{FFFD}")
                default: throw error("invalid escape '\\\(Unicode.Scalar(escape).escaped(asASCII: true))'", at: index)
                }
                runStart = index
                continue
            }
            index += 1
        }
        throw error("unterminated string", at: start)
    }

    func hex4(at offset: Int) throws(JSONScanError) -> UInt32 {
        guard offset + 4 <= bytes.count else { throw error("a \\u escape needs four hex digits", at: offset) }
        var value: UInt32 = 0
        for byte in bytes[offset..<offset + 4] {
            guard let digit = hexDigit(byte) else {
                throw error("a \\u escape needs four hex digits", at: offset)
            }
            value = value * 16 + digit
        }
        return value
    }

    func hexDigit(_ byte: UInt8) -> UInt32? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(byte - 48)
        case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt32(byte - 87)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt32(byte - 55)
        default: nil
        }
    }

    mutating func number() throws(JSONScanError) {
        let start = index
        func digits() -> Int {
            let from = index
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
            return index - from
        }
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        let integerStart = index
        guard digits() > 0 else { throw error("a number needs digits", at: start) }
        if bytes[integerStart] == UInt8(ascii: "0"), index - integerStart > 1 { throw error("a number must not start with 0", at: start) }
        var exact = true
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard digits() > 0 else { throw error("a number needs digits after '.'", at: start) }
            exact = false
        }
        var exponentStart: Int?
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            exponentStart = index
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard digits() > 0 else { throw error("a number needs digits in its exponent", at: start) }
            exact = false
        }
        let text = String(decoding: bytes[start..<index], as: UTF8.self)
        let value = Double(text) ?? .infinity
        if !value.isFinite { throw error("\(text) is too large for a number", at: start) }
        let mantissaIsZero = !bytes[start..<(exponentStart ?? index)].contains { (UInt8(ascii: "1")...UInt8(ascii: "9")).contains($0) }
        if !mantissaIsZero, abs(value) < Double.leastNormalMagnitude {
            throw error("\(text) is too small for a number (use 0 or a larger value)", at: start)
        }
        if !exact || bytes[start] == UInt8(ascii: "-") || Int64(text) == nil {
            inexactNumbers.append(InexactNumber(path: pathText, range: start..<index, text: text))
        }
    }
}

/// A problem found by `JSONScanner`: where (JSON path, line, column) and what.
public struct JSONScanError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var line: Int
    public var column: Int
    public var message: String

    public var problem: ConfigurationProblem {
        ConfigurationProblem(path: path, message: "line \(line), column \(column): \(message)")
    }
    public var description: String { problem.description }
}
