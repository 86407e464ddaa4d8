/// IP addresses as bytes: parsing text (dotted quad, RFC 4291 §2.2 IPv6 forms), writing
/// RFC 5952 text, and prefix matching (for SPF `ip4:`/`ip6:` and reverse names).
public enum IPAddressBytes {
    /// 4 bytes for IPv4, 16 for IPv6, nil for anything else.
    public static func parse(_ text: String) -> [UInt8]? {
        if text.contains(":") { return parseIPv6(Substring(text)) }
        return parseIPv4(Substring(text))
    }

    static func parseIPv4(_ text: Substring) -> [UInt8]? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var bytes: [UInt8] = []
        for part in parts {
            guard !part.isEmpty, part.count <= 3, part.allSatisfy(\.isASCII), let value = UInt8(part),
                  part.count == 1 || part.first != "0" else { return nil }
            bytes.append(value)
        }
        return bytes
    }

    static func parseIPv6(_ text: Substring) -> [UInt8]? {
        let halves = text.split(separator: "::", maxSplits: 1, omittingEmptySubsequences: false)
        guard let head = groups(halves[0], ipv4Last: halves.count == 1) else { return nil }
        let tail = halves.count == 2 ? groups(halves[1], ipv4Last: true) : []
        guard let tail else { return nil }
        let count = head.count + tail.count
        guard halves.count == 2 ? count <= 7 : count == 8 else { return nil }
        return (head + Array(repeating: 0, count: 8 - count) + tail).flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
    }

    /// The 16-bit groups of one side of `::` (an IPv4 address may end the last side).
    static func groups(_ text: Substring, ipv4Last: Bool) -> [UInt16]? {
        guard !text.isEmpty else { return [] }
        let pieces = text.split(separator: ":", omittingEmptySubsequences: false)
        var groups: [UInt16] = []
        for (index, piece) in pieces.enumerated() {
            if ipv4Last, index == pieces.count - 1, piece.contains(".") {
                guard let v4 = parseIPv4(piece) else { return nil }
                groups += [UInt16(v4[0]) << 8 | UInt16(v4[1]), UInt16(v4[2]) << 8 | UInt16(v4[3])]
                continue
            }
            guard (1...4).contains(piece.count), piece.allSatisfy(\.isHexDigit), let value = UInt16(piece, radix: 16) else { return nil }
            groups.append(value)
        }
        return groups
    }

    /// Dotted quad for 4 bytes; RFC 5952 text (lower-case, longest zero run as `::`) for 16.
    public static func format(_ bytes: [UInt8]) -> String {
        if bytes.count == 4 { return bytes.map(String.init).joined(separator: ".") }
        guard bytes.count == 16 else { return bytes.map { String($0, radix: 16) }.joined(separator: ":") }
        let groups = stride(from: 0, to: 16, by: 2).map { UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]) }
        var bestStart = -1, bestLength = 0, start = -1
        for i in 0...8 {
            if i < 8, groups[i] == 0 {
                if start < 0 { start = i }
            } else if start >= 0 {
                if i - start > bestLength, i - start >= 2 { (bestStart, bestLength) = (start, i - start) }
                start = -1
            }
        }
        let text = groups.map { String($0, radix: 16) }
        guard bestStart >= 0 else { return text.joined(separator: ":") }
        return text[..<bestStart].joined(separator: ":") + "::" + text[(bestStart + bestLength)...].joined(separator: ":")
    }

    /// Whether `address` lies in `network`/`prefixLength` (both the same family).
    public static func matches(_ address: [UInt8], network: [UInt8], prefixLength: Int) -> Bool {
        guard address.count == network.count, prefixLength >= 0, prefixLength <= address.count * 8 else { return false }
        var bits = prefixLength
        for i in 0..<address.count where bits > 0 {
            let take = min(8, bits)
            let mask = UInt8(truncatingIfNeeded: 0xFF << (8 - take))
            if address[i] & mask != network[i] & mask { return false }
            bits -= take
        }
        return true
    }

    /// The reverse-lookup name of an address: `4.3.2.1.in-addr.arpa`, or the nibbles of
    /// an IPv6 address under `ip6.arpa` (RFC 3596 §2.5).
    public static func reverseName(_ bytes: [UInt8]) -> String {
        if bytes.count == 4 { return bytes.reversed().map(String.init).joined(separator: ".") + ".in-addr.arpa" }
        return bytes.reversed().flatMap { [String($0 & 0x0F, radix: 16), String($0 >> 4, radix: 16)] }.joined(separator: ".") + ".ip6.arpa"
    }

    /// Whether an address is not a public unicast one: loopback, unspecified, link-local,
    /// private (RFC 1918, RFC 4193 unique local), shared (RFC 6598) or multicast, in IPv4
    /// or IPv6 (an IPv4-mapped IPv6 address by its IPv4 part). Mail taken from DNS is not
    /// sent there unless the operator allows it.
    public static func isPrivate(_ address: [UInt8]) -> Bool {
        if address.count == 16, address[0..<10].allSatisfy({ $0 == 0 }), address[10] == 0xFF, address[11] == 0xFF {
            return isPrivate(Array(address[12...]))
        }
        return (address.count == 4 ? privateIPv4 : privateIPv6).contains { matches(address, network: $0.0, prefixLength: $0.1) }
    }

    /// The non-public networks `isPrivate` knows, built once (it runs per MX address).
    static let privateIPv4: [([UInt8], Int)] = [
        ([0, 0, 0, 0], 8), ([127, 0, 0, 0], 8), ([10, 0, 0, 0], 8), ([172, 16, 0, 0], 12), ([192, 168, 0, 0], 16),
        ([169, 254, 0, 0], 16), ([100, 64, 0, 0], 10), ([224, 0, 0, 0], 4), ([240, 0, 0, 0], 4),
    ]
    static let privateIPv6: [([UInt8], Int)] = [
        (Array(repeating: 0, count: 16), 128), (Array(repeating: 0, count: 15) + [1], 128), ([0xFE, 0x80] + Array(repeating: 0, count: 14), 10),
        ([0xFC] + Array(repeating: 0, count: 15), 7), ([0xFF] + Array(repeating: 0, count: 15), 8),
    ]
}
