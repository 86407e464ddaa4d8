/// Address literals, RFC 5321 §4.1.3:
///
/// | form | grammar | example |
/// |---|---|---|
/// | IPv4 | `Snum 3("." Snum)`, Snum = 1–3 digits, 0–255 | `[192.0.2.1]` |
/// | IPv6-full | `"IPv6:" IPv6-hex 7(":" IPv6-hex)` | `[IPv6:2001:db8:0:0:0:0:0:1]` |
/// | IPv6-comp | at most 6 groups around one `::` | `[IPv6:2001:db8::1]`, `[IPv6:::1]` |
/// | IPv6v4-full | 6 groups, then an IPv4 address | `[IPv6:0:0:0:0:ffff:1:1.2.3.4]` |
/// | IPv6v4-comp | at most 4 groups around one `::`, then IPv4 | `[IPv6:::ffff:1.2.3.4]` |
/// | General | `Standardized-tag ":" 1*dcontent`, dcontent = 33–90 / 94–126 | `[x400:c=us]` |
///
/// IPv6-hex is 1–4 hex digits; the tag `IPv6` is matched without regard to case. A
/// general literal's tag is a letter, then letters, digits and hyphens, not ending in a
/// hyphen (an `Ldh-str`).
extension EmailAddress {
    /// The flaw of `[…]`, nil for a valid address literal.
    static func literalFlaw(_ bytes: UnsafeBufferPointer<UInt8>) -> Flaw? {
        guard bytes.count > 2, bytes[bytes.count - 1] == UInt8(ascii: "]") else { return .invalidLiteral }
        let inner = UnsafeBufferPointer(rebasing: bytes[1..<(bytes.count - 1)])
        if isDigit(inner[0]) { return isIPv4(inner) ? nil : .invalidLiteral }
        guard let colon = inner.firstIndex(of: UInt8(ascii: ":")) else { return .invalidLiteral }
        let tag = UnsafeBufferPointer(rebasing: inner[..<colon])
        let content = UnsafeBufferPointer(rebasing: inner[(colon + 1)...])
        if tag.count == 4, tag.map({ $0 | 0x20 }).elementsEqual("ipv6".utf8) {
            return isIPv6(content) ? nil : .invalidLiteral
        }
        guard let first = tag.first, isLetter(first), tag.allSatisfy({ isAlnum($0) || $0 == UInt8(ascii: "-") }), tag[tag.count - 1] != UInt8(ascii: "-"),
              !content.isEmpty, content.allSatisfy({ ($0 >= 33 && $0 <= 90) || ($0 >= 94 && $0 <= 126) }) else {
            return .invalidLiteral
        }
        return nil
    }

    /// Four decimal numbers 0–255 of 1–3 digits, separated by dots.
    static func isIPv4(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var parts = 0, digits = 0, value = 0
        for index in 0...bytes.count {
            if index == bytes.count || bytes[index] == UInt8(ascii: ".") {
                guard digits > 0 else { return false }
                parts += 1
                digits = 0
                value = 0
                continue
            }
            let byte = bytes[index]
            guard isDigit(byte), digits < 3 else { return false }
            digits += 1
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
            guard value <= 255 else { return false }
        }
        return parts == 4
    }

    /// The IPv6 forms of RFC 5321: eight groups, or at most six around one `::` (which
    /// stands for at least two zero groups); an IPv4 address at the end counts as two groups.
    static func isIPv6(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var doubleColon: Int?
        var index = 0
        while index + 1 < bytes.count {
            if bytes[index] == UInt8(ascii: ":") && bytes[index + 1] == UInt8(ascii: ":") {
                guard doubleColon == nil else { return false }
                doubleColon = index
                index += 2
            } else {
                index += 1
            }
        }
        guard let doubleColon else {
            guard let groups = ipv6Groups(bytes, allowIPv4: true) else { return false }
            return groups == 8
        }
        let left = UnsafeBufferPointer(rebasing: bytes[..<doubleColon])
        let right = UnsafeBufferPointer(rebasing: bytes[(doubleColon + 2)...])
        guard let leftGroups = ipv6Groups(left, allowIPv4: false), let rightGroups = ipv6Groups(right, allowIPv4: true) else { return false }
        return leftGroups + rightGroups <= 6
    }

    /// The number of 16-bit groups in `h16 *(":" h16)` (0 for no bytes), an IPv4 address
    /// as the last part counting two; nil when malformed.
    static func ipv6Groups(_ bytes: UnsafeBufferPointer<UInt8>, allowIPv4: Bool) -> Int? {
        if bytes.isEmpty { return 0 }
        var groups = 0, start = 0
        for index in 0...bytes.count where index == bytes.count || bytes[index] == UInt8(ascii: ":") {
            let part = UnsafeBufferPointer(rebasing: bytes[start..<index])
            start = index + 1
            if index == bytes.count, allowIPv4, part.contains(UInt8(ascii: ".")) {
                guard isIPv4(part) else { return nil }
                groups += 2
                continue
            }
            guard (1...4).contains(part.count), part.allSatisfy(isHexDigit) else { return nil }
            groups += 1
        }
        return groups
    }

    static func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }
    static func isLetter(_ byte: UInt8) -> Bool { (byte | 0x20) >= 0x61 && (byte | 0x20) <= 0x7A }
    static func isHexDigit(_ byte: UInt8) -> Bool { isDigit(byte) || ((byte | 0x20) >= 0x61 && (byte | 0x20) <= 0x66) }
}
