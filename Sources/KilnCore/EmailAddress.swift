/// A mailbox address `local@domain`, checked against the RFC 5321 syntax Kiln accepts
/// for sending: a dot-atom or quoted local part of at most 64 octets, and a domain of
/// LDH labels (or an address literal) of at most 255 octets. The domain is lower-cased.
public struct EmailAddress: Hashable, Sendable, CustomStringConvertible, Comparable {
    public let localPart: String
    public let domain: String

    public init(_ text: String) throws(KilnError) {
        var text = text
        var parts = text.withUTF8 { Self.split($0) }
        if parts == nil {
            // Leading or trailing non-ASCII white space: trim it the general way.
            var trimmed = text.trimmingWhitespace()
            guard trimmed != text else { throw Self.invalid(text) }
            parts = trimmed.withUTF8 { Self.split($0) }
        }
        guard let (local, domain) = parts else { throw Self.invalid(text) }
        self.localPart = local
        self.domain = domain
    }

    /// Why `text` is not an address (the slow path, for the error message only).
    static func invalid(_ text: String) -> KilnError {
        let trimmed = text.trimmingWhitespace()
        guard let at = trimmed.lastIndex(of: "@") else {
            return KilnError(.invalidAddress, "'\(trimmed)' is not an email address: no '@'")
        }
        let local = String(trimmed[..<at])
        let domain = String(trimmed[trimmed.index(after: at)...]).lowercased()
        if !isValidLocalPart(local) { return KilnError(.invalidAddress, "'\(trimmed)' has an invalid local part") }
        if !isValidDomain(domain) { return KilnError(.invalidAddress, "'\(trimmed)' has an invalid domain") }
        return KilnError(.invalidAddress, "'\(trimmed)' is longer than 254 octets")
    }

    /// The local part and the lower-cased domain of a valid address, in one pass over its
    /// bytes; nil when it is not valid or ends in non-ASCII whitespace.
    static func split(_ bytes: UnsafeBufferPointer<UInt8>) -> (String, String)? {
        var start = 0, end = bytes.count
        while start < end, isASCIIWhitespace(bytes[start]) { start += 1 }
        while end > start, isASCIIWhitespace(bytes[end - 1]) { end -= 1 }
        guard start < end, bytes[start] < 0x80 || !isUnicodeSpace(bytes, at: start, end: end),
              bytes[end - 1] < 0x80 || !endsWithUnicodeSpace(bytes, start, end) else {
            return nil
        }
        var at = end - 1
        while at >= start, bytes[at] != UInt8(ascii: "@") { at -= 1 }
        guard at >= start else { return nil }
        let local = UnsafeBufferPointer(rebasing: bytes[start..<at])
        let domainBytes = UnsafeBufferPointer(rebasing: bytes[(at + 1)..<end])
        guard local.count + domainBytes.count + 1 <= 254, isValidLocalPart(local), isValidDomain(domainBytes) else { return nil }
        var ascii = true
        let lowered = String(unsafeUninitializedCapacity: domainBytes.count) { out in
            for (index, byte) in domainBytes.enumerated() {
                if byte >= 0x80 { ascii = false }
                out[index] = byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
            }
            return domainBytes.count
        }
        return (String(decoding: local, as: UTF8.self), ascii ? lowered : lowered.lowercased())
    }

    static func isASCIIWhitespace(_ byte: UInt8) -> Bool { byte == 32 || (byte >= 9 && byte <= 13) }

    /// Whether the scalar starting at `i` is white space (U+0085, U+00A0, U+1680,
    /// U+2000–U+200A, U+2028, U+2029, U+202F, U+205F, U+3000 beyond ASCII).
    static func isUnicodeSpace(_ bytes: UnsafeBufferPointer<UInt8>, at i: Int, end: Int) -> Bool {
        let scalars = String(decoding: UnsafeBufferPointer(rebasing: bytes[i..<min(end, i + 4)]), as: UTF8.self).unicodeScalars
        guard let first = scalars.first else { return false }
        return first.value != 0xFFFD && first.properties.isWhitespace
    }

    /// Whether the last scalar before `end` is white space.
    static func endsWithUnicodeSpace(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Bool {
        var i = end - 1
        while i > start, bytes[i] & 0xC0 == 0x80 { i -= 1 }
        return isUnicodeSpace(bytes, at: i, end: end)
    }

    public var description: String { "\(localPart)@\(domain)" }

    public static func < (lhs: EmailAddress, rhs: EmailAddress) -> Bool { lhs.description < rhs.description }

    static func isValidLocalPart(_ local: String) -> Bool {
        var local = local
        return local.withUTF8 { isValidLocalPart($0) }
    }

    static func isValidLocalPart(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard !bytes.isEmpty, bytes.count <= 64 else { return false }
        if bytes.first == UInt8(ascii: "\"") {
            guard bytes.count >= 2, bytes.last == UInt8(ascii: "\"") else { return false }
            return bytes.dropFirst().dropLast().allSatisfy { $0 >= 32 && $0 < 127 && $0 != UInt8(ascii: "\"") || $0 >= 128 }
        }
        if bytes.first == UInt8(ascii: ".") || bytes.last == UInt8(ascii: ".") { return false }
        var previousDot = false
        for byte in bytes {
            if byte == UInt8(ascii: ".") {
                if previousDot { return false }
                previousDot = true
                continue
            }
            previousDot = false
            if byte >= 128 { continue }  // SMTPUTF8 local parts
            guard isAtext(byte) else { return false }
        }
        return true
    }

    static func isAtext(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"), UInt8(ascii: "'"), UInt8(ascii: "*"),
             UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "/"), UInt8(ascii: "="), UInt8(ascii: "?"), UInt8(ascii: "^"), UInt8(ascii: "_"),
             UInt8(ascii: "`"), UInt8(ascii: "{"), UInt8(ascii: "|"), UInt8(ascii: "}"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    /// True for an LDH domain name with at least two labels, or an address literal `[...]`.
    public static func isValidDomain(_ domain: String) -> Bool {
        var domain = domain
        return domain.withUTF8 { isValidDomain($0) }
    }

    static func isValidDomain(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard !bytes.isEmpty, bytes.count <= 255 else { return false }
        if bytes.first == UInt8(ascii: "[") { return bytes.last == UInt8(ascii: "]") && bytes.count > 2 }
        var labels = 0, labelStart = 0
        for index in 0...bytes.count {
            guard index == bytes.count || bytes[index] == UInt8(ascii: ".") else {
                let byte = bytes[index]
                guard isAlnum(byte) || byte == UInt8(ascii: "-") || byte >= 128 else { return false }
                continue
            }
            let length = index - labelStart
            guard length > 0, length <= 63, bytes[labelStart] != UInt8(ascii: "-"), bytes[index - 1] != UInt8(ascii: "-") else { return false }
            labels += 1
            labelStart = index + 1
        }
        return labels >= 2
    }

    static func isAlnum(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
    }
}

extension StringProtocol {
    /// The text without leading and trailing white space (Unicode's definition).
    public func trimmingWhitespace() -> String {
        let bytes = Substring(self).utf8
        if let first = bytes.first, let last = bytes.last, first < 0x80, last < 0x80,
           !EmailAddress.isASCIIWhitespace(first), !EmailAddress.isASCIIWhitespace(last) {
            return String(self)
        }
        var scalars = Substring(self).unicodeScalars[...]
        while let first = scalars.first, first.properties.isWhitespace { scalars = scalars.dropFirst() }
        while let last = scalars.last, last.properties.isWhitespace { scalars = scalars.dropLast() }
        return String(String.UnicodeScalarView(scalars))
    }
}
