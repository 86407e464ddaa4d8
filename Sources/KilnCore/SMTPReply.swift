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

    /// The most bytes of reply text an event or a message record keeps.
    public static let storedTextLimit = 4096

    /// The reply with its text cut to `limit` bytes of UTF-8 (at a character boundary,
    /// ending in `…`): a receiver's 90 KB reply is not stored on every attempt.
    public func bounded(to limit: Int = SMTPReply.storedTextLimit) -> SMTPReply {
        guard text.utf8.count > limit else { return self }
        let bytes = Array(text.utf8)
        var cut = max(0, limit - 3)
        // Back to the start of a character: never through a UTF-8 continuation byte.
        while cut > 0, bytes[cut] & 0xC0 == 0x80 { cut -= 1 }
        var copy = self
        copy.text = String(decoding: bytes[..<cut], as: UTF8.self) + "…"
        return copy
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

    /// The work of `init(parsing:)`, on the reply's UTF-8 bytes: it runs once per message
    /// on a transfer thread, where going through Characters (grapheme breaking) cost more
    /// than the rest of the reply handling.
    init?(parsingString raw: String) {
        var raw = raw
        guard let (code, status, text) = raw.withUTF8({ Self.parse($0) }) else { return nil }
        self.init(code: code, enhancedStatus: status ?? Self.findStatus(in: text, code: code), text: text)
    }

    /// Lines end at CR or LF; a line counts when it starts with three digits and has the
    /// first such line's code. After the code one `-` or space goes, then spaces; a first
    /// word that is an enhanced status is taken (the first one given) and the rest of the
    /// line is text, joined with the other lines' by a space.
    static func parse(_ bytes: UnsafeBufferPointer<UInt8>) -> (Int, String?, String)? {
        let space = UInt8(ascii: " ")
        var code: Int?
        var status: String?
        var text: [UInt8] = []
        var start = 0
        let n = bytes.count
        while start < n {
            var end = start
            while end < n, bytes[end] != 10, bytes[end] != 13 { end += 1 }
            defer { start = end + 1 }
            guard end - start >= 3, isDigit(bytes[start]), isDigit(bytes[start + 1]), isDigit(bytes[start + 2]) else { continue }
            let lineCode = Int(bytes[start] - 48) * 100 + Int(bytes[start + 1] - 48) * 10 + Int(bytes[start + 2] - 48)
            if code == nil { code = lineCode } else if code != lineCode { continue }
            var p = start + 3
            if p < end, bytes[p] == UInt8(ascii: "-") || bytes[p] == space { p += 1 }
            while p < end, bytes[p] == space { p += 1 }
            var wordEnd = p
            while wordEnd < end, bytes[wordEnd] != space { wordEnd += 1 }
            let word = UnsafeBufferPointer(rebasing: bytes[p..<wordEnd])
            if isEnhancedStatus(bytes: word) {
                if status == nil { status = String(decoding: word, as: UTF8.self) }
                p = wordEnd
                while p < end, bytes[p] == space { p += 1 }
            }
            guard p < end else { continue }
            if !text.isEmpty { text.append(space) }
            text.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[p..<end]))
        }
        guard let code else { return nil }
        return (code, status, String(decoding: text, as: UTF8.self))
    }

    static func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }

    /// `isEnhancedStatus` on bytes: `c.sss.ddd` with c 2, 4 or 5 and one to three ASCII
    /// digits in each other part.
    static func isEnhancedStatus(bytes word: UnsafeBufferPointer<UInt8>) -> Bool {
        guard word.count >= 5, word[0] == UInt8(ascii: "2") || word[0] == UInt8(ascii: "4") || word[0] == UInt8(ascii: "5"),
              word[1] == UInt8(ascii: ".") else { return false }
        var parts = 0
        var digits = 0
        for byte in word[2...] {
            if byte == UInt8(ascii: ".") {
                guard digits > 0 else { return false }
                parts += 1
                digits = 0
            } else {
                guard isDigit(byte), digits < 3 else { return false }
                digits += 1
            }
        }
        return parts == 1 && digits > 0
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
