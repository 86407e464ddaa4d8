/// A reply from an SMTP server (or one that Kiln synthesised for a local failure, such as
/// a refused connection): code, enhanced status (RFC 3463) and text. Replies are values:
/// they steer the engine, they are not errors.
public struct SMTPReply: Hashable, Sendable, Codable, CustomStringConvertible {
    /// The three-digit reply code, e.g. 421.
    public var code: Int
    /// The enhanced status code, e.g. "4.7.28", when the server gave one.
    public var enhancedStatus: String?
    /// The reply text without code and enhanced status; lines of a multi-line reply joined by a space.
    public var text: String
    /// True when Kiln made this reply up for a local failure (no connection, a timeout).
    public var isLocal: Bool

    public init(code: Int, enhancedStatus: String? = nil, text: String, isLocal: Bool = false) {
        self.code = code
        self.enhancedStatus = enhancedStatus
        self.text = text
        self.isLocal = isLocal
    }

    public var isPositive: Bool { (200..<400).contains(code) }
    public var isTransient: Bool { (400..<500).contains(code) }
    public var isPermanent: Bool { code >= 500 }

    public var description: String {
        [String(code), enhancedStatus, text].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: " ")
    }

    /// Parses a reply as a server writes it, one or several lines (`421-4.7.28 ...`,
    /// `421 4.7.28 ...`), separated by CRLF or LF. Returns nil when no line starts with a
    /// three-digit code.
    public init?(parsing raw: some StringProtocol) {
        // Called from other modules, a generic body would run unspecialized, through
        // witness tables for every character: the work is done on a concrete String.
        self.init(parsingString: String(raw))
    }

    init?(parsingString raw: String) {
        var code: Int?
        var status: String?
        var texts: [Substring] = []
        for line in raw.split(omittingEmptySubsequences: true, whereSeparator: { $0 == "\n" || $0 == "\r" || $0 == "\r\n" }) {
            let chars = Array(line.utf8.prefix(4))
            guard chars.count >= 3, chars[0...2].allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                  let lineCode = Int(line.prefix(3)) else { continue }
            if code == nil { code = lineCode } else if code != lineCode { continue }
            var rest = line.dropFirst(3)
            if let first = rest.first, first == "-" || first == " " { rest = rest.dropFirst() }
            rest = rest.drop(while: { $0 == " " })
            let word = rest.prefix(while: { $0 != " " })
            if Self.isEnhancedStatus(word) {
                if status == nil { status = String(word) }
                rest = rest.dropFirst(word.count).drop(while: { $0 == " " })
            }
            if !rest.isEmpty { texts.append(Substring(rest)) }
        }
        guard let code else { return nil }
        let text = texts.joined(separator: " ")
        self.init(code: code, enhancedStatus: status ?? Self.findStatus(in: text, code: code), text: text)
    }

    /// The enhanced status written somewhere in a reply's text, where providers put it:
    /// after a `#` (`#5.1.0`), in brackets or parentheses (`[5.7.1]`, `(#4.4.5)`), after
    /// the text. Only a status of the code's class counts (a 550 reply's 5.x.x); its
    /// subject is one digit 0-7 (RFC 3463 §3), so a version number (`Exim 4.92.3`) or an
    /// address (`192.0.2.10`) is not taken. Nil when there is none.
    public static func findStatus(in text: some StringProtocol, code: Int) -> String? {
        let bytes = Array(text.utf8)
        let classDigit = UInt8(ascii: "0") + UInt8(clamping: code / 100)
        func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }
        var i = 0
        while i + 4 < bytes.count {
            defer { i += 1 }
            guard bytes[i] == classDigit, bytes[i + 1] == UInt8(ascii: "."), i == 0 || (!isDigit(bytes[i - 1]) && bytes[i - 1] != UInt8(ascii: ".")),
                  bytes[i + 2] >= 0x30, bytes[i + 2] <= 0x37, bytes[i + 3] == UInt8(ascii: ".") else { continue }
            var end = i + 4
            while end < bytes.count, isDigit(bytes[end]), end - (i + 4) < 4 { end += 1 }
            let detail = end - (i + 4)
            guard detail >= 1, detail <= 3 else { continue }
            if end < bytes.count {
                if isDigit(bytes[end]) { continue }
                if bytes[end] == UInt8(ascii: "."), end + 1 < bytes.count, isDigit(bytes[end + 1]) { continue }
            }
            return String(decoding: bytes[i..<end], as: UTF8.self)
        }
        return nil
    }

    /// True for `class.subject.detail` with class 2, 4 or 5 (RFC 3463).
    public static func isEnhancedStatus(_ word: some StringProtocol) -> Bool {
        let parts = word.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let first = parts[0].first, "245".contains(first), parts[0].count == 1 else { return false }
        return parts.dropFirst().allSatisfy { !$0.isEmpty && $0.count <= 3 && $0.allSatisfy(\.isNumber) }
    }
}
