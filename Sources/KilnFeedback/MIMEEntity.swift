import Foundation

/// A parsed Internet message or MIME body part (RFC 5322, RFC 2045-2047), read leniently:
/// bounces come from every kind of MTA, and many of them are not quite well-formed
/// (a multipart without its boundary parameter, bare LF line ends, 8-bit headers). The
/// parser never fails; what it cannot make sense of stays text.
public struct MIMEEntity: Sendable {
    public struct Field: Sendable, Hashable {
        public var name: String
        public var value: String
    }

    public var fields: [Field]
    /// The decoded body (transfer encoding removed), as text.
    public var body: String
    /// The parts of a multipart body, or the one message of a message/rfc822 body.
    public var parts: [MIMEEntity]

    /// Parses a whole message.
    public init(bytes: some Collection<UInt8>) {
        self.init(text: Self.text(of: Array(bytes)), depth: 0)
    }

    public init(text: String) {
        self.init(text: text, depth: 0)
    }

    init(text raw: String, depth: Int) {
        let text = raw.contains("\r") ? raw.replacingOccurrences(of: "\r\n", with: "\n") : raw
        let (fields, rawBody) = Self.splitHeader(text)
        self.fields = fields
        self.parts = []
        self.body = ""
        let type = contentType
        let encoding = (field("Content-Transfer-Encoding") ?? "").lowercased().trimmingCharacters(in: .whitespaces)
        guard depth < 8 else { body = rawBody; return }
        if type.type.hasPrefix("multipart/") {
            let boundary = type.parameters["boundary"] ?? Self.guessBoundary(rawBody)
            if let boundary, !boundary.isEmpty {
                let (preamble, bodies) = Self.split(rawBody, boundary: boundary)
                body = preamble
                parts = bodies.map { MIMEEntity(text: $0, depth: depth + 1) }
                return
            }
        }
        body = Self.decode(rawBody, encoding: encoding)
        if ["message/rfc822", "text/rfc822-headers", "message/rfc822-headers", "message/global", "message/partial"].contains(type.type) {
            parts = [MIMEEntity(text: Self.trimLeadingBlankLines(body), depth: depth + 1)]
        }
    }

    // MARK: Reading

    /// The first field of that name (case-insensitive), unfolded, RFC 2047 words decoded.
    public func field(_ name: String) -> String? {
        fields.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
    }

    public func fields(_ name: String) -> [String] {
        fields.filter { $0.name.caseInsensitiveCompare(name) == .orderedSame }.map(\.value)
    }

    public struct ContentType: Sendable {
        public var type: String
        public var parameters: [String: String]
    }

    public var contentType: ContentType {
        guard let value = field("Content-Type") else { return ContentType(type: "text/plain", parameters: [:]) }
        return Self.parseContentType(value)
    }

    /// Every entity in this tree, depth first, this one first. With `intoMessages` false,
    /// the tree stops at embedded messages (the returned copy of the original).
    public func walk(intoMessages: Bool = true) -> [MIMEEntity] {
        var out = [self]
        let isMessage = contentType.type.hasPrefix("message/") || contentType.type == "text/rfc822-headers"
        if intoMessages || !isMessage {
            for part in parts { out += part.walk(intoMessages: intoMessages) }
        }
        return out
    }

    // MARK: Parsing

    static func text(of bytes: [UInt8]) -> String {
        if let text = String(validating: bytes, as: UTF8.self) { return text }
        // Not UTF-8: read as Latin-1 so that every byte survives as one character.
        return String(bytes.map { Character(Unicode.Scalar($0)) })
    }

    static func splitHeader(_ text: String) -> ([Field], String) {
        var fields: [Field] = []
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)[...]
        // An mbox "From " line is not a field.
        if let first = lines.first, first.hasPrefix("From ") { lines = lines.dropFirst() }
        var current: (name: String, value: String)?
        var consumed = 0
        for line in lines {
            if line.isEmpty || line == "\r" { consumed += 1; break }
            if line.first == " " || line.first == "\t" {
                if current != nil { current!.value += " " + line.trimmingCharacters(in: .whitespaces) }
                consumed += 1
                continue
            }
            if let colon = line.firstIndex(of: ":"), colon > line.startIndex,
               !line[..<colon].contains(where: { $0 == " " || $0 == "\t" }) {
                if let done = current { fields.append(Field(name: done.name, value: decodeWords(done.value))) }
                let name = line[..<colon].trimmingCharacters(in: .whitespaces)
                current = (name, line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
                consumed += 1
                continue
            }
            // Not a header line: the header ended without a blank line.
            break
        }
        if let done = current { fields.append(Field(name: done.name, value: decodeWords(done.value))) }
        let body = lines.dropFirst(consumed).joined(separator: "\n")
        return (fields, body)
    }

    static func parseContentType(_ value: String) -> ContentType {
        var pieces = splitParameters(value)
        let type = pieces.isEmpty ? "text/plain" : pieces.removeFirst().lowercased()
        var parameters: [String: String] = [:]
        for piece in pieces {
            guard let eq = piece.firstIndex(of: "=") else { continue }
            let key = piece[..<eq].trimmingCharacters(in: .whitespaces).lowercased()
            var value = piece[piece.index(after: eq)...].trimmingCharacters(in: .whitespaces)
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = String(value.dropFirst().dropLast()) }
            parameters[key] = value
        }
        return ContentType(type: type.isEmpty ? "text/plain" : type, parameters: parameters)
    }

    /// Splits `a; b="x;y"; c` on semicolons outside quotes.
    static func splitParameters(_ value: String) -> [String] {
        var out: [String] = []
        var current = ""
        var quoted = false
        for character in value {
            if character == "\"" { quoted.toggle() }
            if character == ";" && !quoted {
                out.append(current.trimmingCharacters(in: .whitespaces))
                current = ""
            } else {
                current.append(character)
            }
        }
        out.append(current.trimmingCharacters(in: .whitespaces))
        return out.filter { !$0.isEmpty }
    }

    static func guessBoundary(_ body: String) -> String? {
        for line in body.split(separator: "\n", omittingEmptySubsequences: true).prefix(200) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("--"), trimmed.count > 4, !trimmed.hasPrefix("---"), !trimmed.contains(" ") {
                return String(trimmed.dropFirst(2))
            }
        }
        return nil
    }

    static func split(_ body: String, boundary: String) -> (String, [String]) {
        let delimiter = "--" + boundary
        var preamble: [Substring] = []
        var parts: [[Substring]] = []
        var inPart = false
        for line in body.split(separator: "\n", omittingEmptySubsequences: false) {
            let trimmed = line.hasSuffix(" ") || line.hasSuffix("\t") ? Substring(line.trimmingCharacters(in: .whitespaces)) : line
            if trimmed.hasPrefix(delimiter) {
                let rest = trimmed.dropFirst(delimiter.count)
                if rest.isEmpty { parts.append([]); inPart = true; continue }
                if rest.hasPrefix("--") { inPart = false; continue }
            }
            if inPart { parts[parts.count - 1].append(line) } else if parts.isEmpty { preamble.append(line) }
        }
        return (preamble.joined(separator: "\n"), parts.map { $0.joined(separator: "\n") })
    }

    static func trimLeadingBlankLines(_ text: String) -> String {
        var view = Substring(text)
        while view.hasPrefix("\n") || view.hasPrefix(" \n") { view = view.drop { $0 == " " }.dropFirst() }
        return String(view)
    }

    static func decode(_ body: String, encoding: String) -> String {
        switch encoding {
        case "base64":
            let compact = body.filter { !$0.isWhitespace }
            var padded = compact
            while padded.count % 4 != 0 { padded += "=" }
            if let data = Data(base64Encoded: padded, options: .ignoreUnknownCharacters) { return text(of: Array(data)) }
            return body
        case "quoted-printable":
            return text(of: decodeQuotedPrintable(body))
        default:
            return body
        }
    }

    static func decodeQuotedPrintable(_ text: String) -> [UInt8] {
        var out: [UInt8] = []
        let bytes = Array(text.utf8)
        var i = 0
        while i < bytes.count {
            let byte = bytes[i]
            if byte == UInt8(ascii: "=") {
                if i + 1 < bytes.count, bytes[i + 1] == 10 { i += 2; continue }
                if i + 2 < bytes.count, let high = hexValue(bytes[i + 1]), let low = hexValue(bytes[i + 2]) {
                    out.append(high << 4 | low)
                    i += 3
                    continue
                }
            }
            out.append(byte)
            i += 1
        }
        return out
    }

    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        default: nil
        }
    }

    /// Decodes RFC 2047 encoded words (`=?utf-8?B?...?=`); charsets other than UTF-8 and
    /// ASCII are read as Latin-1.
    static func decodeWords(_ value: String) -> String {
        guard value.contains("=?") else { return value }
        var out = ""
        var rest = Substring(value)
        var lastWasWord = false
        while let start = rest.range(of: "=?") {
            let between = rest[..<start.lowerBound]
            let tail = rest[start.upperBound...]
            let pieces = tail.split(separator: "?", maxSplits: 3, omittingEmptySubsequences: false)
            guard pieces.count == 4, pieces[3].hasPrefix("="), pieces[1].count == 1 else {
                out += rest[..<start.upperBound]
                rest = tail
                lastWasWord = false
                continue
            }
            if !(lastWasWord && between.allSatisfy(\.isWhitespace)) { out += between }
            let encoded = String(pieces[2])
            let decoded: [UInt8]
            if pieces[1].lowercased() == "b" {
                var padded = encoded
                while padded.count % 4 != 0 { padded += "=" }
                decoded = Data(base64Encoded: padded).map(Array.init) ?? Array(encoded.utf8)
            } else {
                decoded = decodeQuotedPrintable(encoded.replacingOccurrences(of: "_", with: " "))
            }
            out += text(of: decoded)
            rest = pieces[3].dropFirst()
            lastWasWord = true
        }
        out += rest
        return out
    }
}
