/// A mailbox address `local@domain`, checked against the RFC 5321 grammar (§4.1.2,
/// §4.1.3) with the RFC 6531 UTF-8 extension (see `EmailAddress+Syntax.swift`): a
/// Dot-string or Quoted-string local part of at most 64 octets, and a domain of two or
/// more labels (or an address literal `[192.0.2.1]`, `[IPv6:2001:db8::1]`) of at most
/// 255 octets; 254 octets in all. No control character (C0, DEL, C1) and no invalid UTF-8
/// passes, so an address can never carry CR or LF into an SMTP command or a header.
/// White space around the text is trimmed. A domain name is lower-cased, and an
/// internationalized one is kept in its A-label form (`a@bücher.de` becomes
/// `a@xn--bcher-kva.de`, see `IDNA`): what goes into RCPT TO, MAIL FROM, headers and DNS
/// lookups is ASCII but for a non-ASCII local part, which needs SMTPUTF8 (RFC 6531).
/// `displayDescription` shows the U-label. An address literal is kept as written.
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

    /// An address from raw bytes (a file, a command line): bytes that are not well-formed
    /// UTF-8 are an error naming the part they are in, never replaced with U+FFFD.
    public init(utf8 bytes: some Collection<UInt8>) throws(KilnError) {
        let array = Array(bytes)
        guard let text = String(validating: array, as: UTF8.self) else {
            let found = array.withUnsafeBufferPointer { Self.flaw(ofTrimmed: $0) } ?? Flaw.invalidUTF8(.localPart)
            throw KilnError(.invalidAddress, found.message(String(decoding: array, as: UTF8.self).escapingControlCharacters))
        }
        try self.init(text)
    }

    /// Why `text` is not an address (the slow path, for the error message only). The
    /// address is echoed with its control characters escaped.
    static func invalid(_ text: String) -> KilnError {
        var trimmed = text.trimmingWhitespace()
        let found = trimmed.withUTF8 { Self.flaw(ofTrimmed: $0) } ?? Flaw.invalidLocalPart
        return KilnError(.invalidAddress, found.message(trimmed.escapingControlCharacters))
    }

    /// The local part and the domain (lower-cased unless a literal) of a valid address,
    /// in one pass over its bytes; nil when it is not valid or ends in non-ASCII whitespace.
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
        guard local.count + domainBytes.count + 1 <= 254, localPartFlaw(local) == nil, domainFlaw(domainBytes) == nil else { return nil }
        let localPart = String(decoding: local, as: UTF8.self)
        if domainBytes[0] == UInt8(ascii: "[") { return (localPart, String(decoding: domainBytes, as: UTF8.self)) }
        var ascii = true
        let lowered = String(unsafeUninitializedCapacity: domainBytes.count) { out in
            for (index, byte) in domainBytes.enumerated() {
                if byte >= 0x80 { ascii = false }
                out[index] = byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
            }
            return domainBytes.count
        }
        if ascii { return (localPart, lowered) }
        // Checked by `domainFlaw` already; the A-label form must fit the 254 octets too.
        guard let converted = try? IDNA.asciiDomain(lowered), local.count + 1 + converted.utf8.count <= 254 else { return nil }
        return (localPart, converted)
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

    /// The domain for display: its A-labels shown as U-labels (`bücher.de`).
    public var unicodeDomain: String { IDNA.unicodeDomain(domain) }

    /// The address for display, with `unicodeDomain`; never for the wire.
    public var displayDescription: String { "\(localPart)@\(unicodeDomain)" }

    /// Whether the address needs SMTPUTF8 (RFC 6531): its local part is not ASCII (the
    /// domain always is, in A-label form).
    public var needsSMTPUTF8: Bool { !localPart.utf8.allSatisfy { $0 < 0x80 } }

    public static func < (lhs: EmailAddress, rhs: EmailAddress) -> Bool { lhs.description < rhs.description }

    /// True for a domain name of two or more labels (UTF-8 allowed beyond ASCII) or an
    /// address literal, by the same rules as an address's domain: no control character,
    /// no invalid UTF-8, at most 255 octets.
    public static func isValidDomain(_ domain: String) -> Bool {
        var domain = domain
        return domain.withUTF8 { isValidDomain($0) }
    }

    static func isValidDomain(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool { domainFlaw(bytes) == nil }
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
