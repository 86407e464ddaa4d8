/// A mailbox address `local@domain`, checked against the RFC 5321 syntax Kiln accepts
/// for sending: a dot-atom or quoted local part of at most 64 octets, and a domain of
/// LDH labels (or an address literal) of at most 255 octets. The domain is lower-cased.
public struct EmailAddress: Hashable, Sendable, CustomStringConvertible, Comparable {
    public let localPart: String
    public let domain: String

    public init(_ text: String) throws(KilnError) {
        let trimmed = text.trimmingWhitespace()
        guard let at = trimmed.lastIndex(of: "@") else {
            throw KilnError(.invalidAddress, "'\(trimmed)' is not an email address: no '@'")
        }
        let local = String(trimmed[..<at])
        let domain = String(trimmed[trimmed.index(after: at)...]).lowercased()
        guard Self.isValidLocalPart(local) else {
            throw KilnError(.invalidAddress, "'\(trimmed)' has an invalid local part")
        }
        guard Self.isValidDomain(domain) else {
            throw KilnError(.invalidAddress, "'\(trimmed)' has an invalid domain")
        }
        guard local.utf8.count + domain.utf8.count + 1 <= 254 else {
            throw KilnError(.invalidAddress, "'\(trimmed)' is longer than 254 octets")
        }
        self.localPart = local
        self.domain = domain
    }

    public var description: String { "\(localPart)@\(domain)" }

    public static func < (lhs: EmailAddress, rhs: EmailAddress) -> Bool { lhs.description < rhs.description }

    static func isValidLocalPart(_ local: String) -> Bool {
        let bytes = Array(local.utf8)
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
        default:
            return "!#$%&'*+-/=?^_`{|}~".utf8.contains(byte)
        }
    }

    /// True for an LDH domain name with at least two labels, or an address literal `[...]`.
    public static func isValidDomain(_ domain: String) -> Bool {
        let bytes = Array(domain.utf8)
        guard !bytes.isEmpty, bytes.count <= 255 else { return false }
        if bytes.first == UInt8(ascii: "[") { return bytes.last == UInt8(ascii: "]") && bytes.count > 2 }
        let labels = domain.split(separator: ".", omittingEmptySubsequences: false)
        guard labels.count >= 2 else { return false }
        for label in labels {
            let l = Array(label.utf8)
            guard !l.isEmpty, l.count <= 63, l.first != UInt8(ascii: "-"), l.last != UInt8(ascii: "-") else { return false }
            for byte in l where !(isAlnum(byte) || byte == UInt8(ascii: "-") || byte >= 128) { return false }
        }
        return true
    }

    static func isAlnum(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
    }
}

extension StringProtocol {
    func trimmingWhitespace() -> String {
        var scalars = Substring(self).unicodeScalars[...]
        while let first = scalars.first, first.properties.isWhitespace { scalars = scalars.dropFirst() }
        while let last = scalars.last, last.properties.isWhitespace { scalars = scalars.dropLast() }
        return String(String.UnicodeScalarView(scalars))
    }
}
