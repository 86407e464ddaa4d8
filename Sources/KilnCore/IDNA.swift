import Foundation

/// Punycode (RFC 3492): a Unicode string as the letters, digits and hyphens that DNS
/// labels allow. The basic (ASCII) code points are copied first, in order, with a
/// delimiter `-` after them when there are any; the others follow as generalized
/// variable-length integers (base 36, bias adaptation of §6.1).
///
/// | input | output |
/// |---|---|
/// | `bücher` | `bcher-kva` |
/// | `ü` | `tda` |
/// | `-> $1.00 <-` | `-> $1.00 <--` |
public enum Punycode {
    static let base = 36, tMin = 1, tMax = 26, skew = 38, damp = 700, initialBias = 72, initialN = 0x80
    /// The largest value of the RFC's 32-bit integers: anything that would pass it is an overflow.
    static let maxInt = Int(UInt32.max)

    /// The Punycode of `input` (without the `xn--` prefix); nil on overflow (§6.4), which
    /// takes far more than a DNS label holds.
    public static func encode(_ input: some StringProtocol) -> String? {
        let scalars = input.unicodeScalars.map { Int($0.value) }
        var output: [UInt8] = scalars.filter { $0 < 0x80 }.map(UInt8.init)
        let basic = output.count
        var handled = basic
        if basic > 0 { output.append(UInt8(ascii: "-")) }
        var n = initialN, delta = 0, bias = initialBias
        while handled < scalars.count {
            // The smallest code point not yet handled.
            guard let m = scalars.lazy.filter({ $0 >= n }).min(), m - n <= (maxInt - delta) / (handled + 1) else { return nil }
            delta += (m - n) * (handled + 1)
            n = m
            for c in scalars {
                if c < n {
                    delta += 1
                    guard delta <= maxInt else { return nil }
                }
                guard c == n else { continue }
                var q = delta
                var k = base
                while true {
                    let t = threshold(k, bias)
                    if q < t { break }
                    output.append(digit(t + (q - t) % (base - t)))
                    q = (q - t) / (base - t)
                    k += base
                }
                output.append(digit(q))
                bias = adapt(delta, points: handled + 1, first: handled == basic)
                delta = 0
                handled += 1
            }
            delta += 1
            n += 1
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// The Unicode string of a Punycode `input` (without the `xn--` prefix); nil when it is
    /// not valid Punycode: a character that is not a base-36 digit after the delimiter, a
    /// non-ASCII character, a truncated number, an overflow, or a decoded value that is a
    /// surrogate or beyond U+10FFFF.
    public static func decode(_ input: some StringProtocol) -> String? {
        let bytes = Array(input.utf8)
        guard bytes.allSatisfy({ $0 < 0x80 }) else { return nil }
        var output: [Unicode.Scalar] = []
        var index = 0
        if let delimiter = bytes.lastIndex(of: UInt8(ascii: "-")) {
            output = bytes[..<delimiter].map { Unicode.Scalar($0) }
            index = delimiter + 1
        }
        var n = initialN, i = 0, bias = initialBias
        while index < bytes.count {
            let old = i
            var w = 1
            var k = base
            while true {
                guard index < bytes.count, let value = digitValue(bytes[index]) else { return nil }
                index += 1
                guard value <= (maxInt - i) / w else { return nil }
                i += value * w
                let t = threshold(k, bias)
                if value < t { break }
                guard w <= maxInt / (base - t) else { return nil }
                w *= base - t
                k += base
            }
            let count = output.count + 1
            bias = adapt(i - old, points: count, first: old == 0)
            guard i / count <= maxInt - n else { return nil }
            n += i / count
            i %= count
            guard let scalar = Unicode.Scalar(UInt32(n)) else { return nil }
            output.insert(scalar, at: i)
            i += 1
        }
        var text = String.UnicodeScalarView()
        text.append(contentsOf: output)
        return String(text)
    }

    static func threshold(_ k: Int, _ bias: Int) -> Int {
        k <= bias ? tMin : (k >= bias + tMax ? tMax : k - bias)
    }

    /// Bias adaptation, RFC 3492 §6.1.
    static func adapt(_ delta: Int, points: Int, first: Bool) -> Int {
        var delta = first ? delta / damp : delta / 2
        delta += delta / points
        var k = 0
        while delta > ((base - tMin) * tMax) / 2 {
            delta /= base - tMin
            k += base
        }
        return k + (base - tMin + 1) * delta / (delta + skew)
    }

    /// 0–25 as `a`–`z`, 26–35 as `0`–`9`.
    static func digit(_ value: Int) -> UInt8 {
        value < 26 ? UInt8(ascii: "a") + UInt8(value) : UInt8(ascii: "0") + UInt8(value - 26)
    }

    static func digitValue(_ byte: UInt8) -> Int? {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"): Int(byte - UInt8(ascii: "a"))
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): Int(byte - UInt8(ascii: "A"))
        case UInt8(ascii: "0")...UInt8(ascii: "9"): Int(byte - UInt8(ascii: "0")) + 26
        default: nil
        }
    }
}

/// Internationalized domain names (RFC 5890–5891): the one conversion of a domain to the
/// form that goes on the wire. Every domain Kiln sends under or to is converted where it
/// enters (an address parsed by `EmailAddress`, an identity's domains when the
/// configuration is loaded), so that the envelope (MAIL FROM, RCPT TO), the Message-ID,
/// DKIM's `d=` (RFC 8616 §4: always the A-label) and DNS lookups carry A-labels whether
/// or not the receiver offers SMTPUTF8. The U-label is for display only (`unicodeDomain`).
///
/// | input | A-label form |
/// |---|---|
/// | `bücher.de`, `BÜCHER.de`, `bu\u{308}cher.de` (NFD) | `xn--bcher-kva.de` |
/// | `例子.广告` | `xn--fsqu00a.xn--3lr804guic` |
/// | `xn--bcher-kva.de`, `Example.COM` | as is, lower-cased |
/// | an address literal `[192.0.2.1]` | as is |
///
/// Each non-ASCII label is normalized (lower case, then NFC), checked, and written as
/// `xn--` + Punycode. The check is a close reading of IDNA2008 (RFC 5891 §4.2), not its
/// full table of code points: a U-label is letters, combining marks (not first), decimal
/// digits and hyphens, without `--` in its third and fourth places; anything else
/// (symbols, punctuation, spaces, format characters such as ZWJ, upper case that does
/// not lower) is refused. An A-label is at most 63 octets, the whole name 255.
public enum IDNA {
    /// Why a domain has no A-label form.
    public struct Failure: Error, Sendable, Hashable, CustomStringConvertible {
        public var description: String
        public init(_ description: String) { self.description = description }
    }

    /// The A-label form of `domain` (see the type's table); ASCII names are only
    /// lower-cased.
    public static func asciiDomain(_ domain: String) throws(Failure) -> String {
        if domain.utf8.allSatisfy({ $0 < 0x80 }) { return lowercasedASCII(domain) }
        let normalized = domain.lowercased().precomposedStringWithCanonicalMapping
        var labels: [String] = []
        // The dots IDNA2003 and UTS #46 treat as label separators, too.
        for label in normalized.split(omittingEmptySubsequences: false, whereSeparator: { "．。｡".contains($0) || $0 == "." }) {
            labels.append(try aLabel(String(label)))
        }
        let result = labels.joined(separator: ".")
        guard result.utf8.count <= 255 else {
            throw Failure("'\(domain)' is \(result.utf8.count) octets in A-label form (\(result.prefix(40))…), over 255")
        }
        return result
    }

    /// `asciiDomain(domain)`, or `domain` itself lower-cased when it has no A-label form
    /// (for comparisons: such a domain was refused where it entered).
    public static func asciiDomainOrSame(_ domain: String) -> String {
        (try? asciiDomain(domain)) ?? domain.lowercased()
    }

    /// `local@domain` with its domain in A-label form; the local part as it is (a
    /// non-ASCII local part needs SMTPUTF8, whatever the domain). Text without `@`, or
    /// whose domain has no A-label form, comes back unchanged.
    public static func asciiAddress(_ address: String) -> String {
        guard !address.utf8.allSatisfy({ $0 < 0x80 }), let at = address.lastIndex(of: "@") else { return address }
        let domain = String(address[address.index(after: at)...])
        guard !domain.hasPrefix("["), let ascii = try? asciiDomain(domain) else { return address }
        return String(address[...at]) + ascii
    }

    /// The domain for display: each `xn--` label that decodes to a valid U-label shown as
    /// that U-label; every other label as it is.
    public static func unicodeDomain(_ domain: String) -> String {
        guard domain.utf8.count >= 4, domain.lowercased().contains("xn--") else { return domain }
        return domain.split(separator: ".", omittingEmptySubsequences: false).map { label -> String in
            guard label.count > 4, label.lowercased().hasPrefix("xn--"),
                  let decoded = Punycode.decode(label.dropFirst(4)).map({ $0.lowercased().precomposedStringWithCanonicalMapping }),
                  (try? aLabel(decoded)) == label.lowercased() else {
                return String(label)
            }
            return decoded
        }.joined(separator: ".")
    }

    /// One label in A-label form: an ASCII label as it is, a U-label checked and encoded.
    static func aLabel(_ label: String) throws(Failure) -> String {
        guard !label.isEmpty else { throw Failure("an empty label") }
        if label.utf8.allSatisfy({ $0 < 0x80 }) { return label }
        let scalars = Array(label.unicodeScalars)
        if let first = scalars.first, isMark(first) {
            throw Failure("the label '\(label)' starts with a combining mark")
        }
        if scalars.count >= 4, scalars[2] == "-", scalars[3] == "-" {
            throw Failure("the label '\(label)' has '--' in its third and fourth places")
        }
        if let bad = scalars.first(where: { !isLabelScalar($0) }) {
            throw Failure("the label '\(label)' has U+\(String(bad.value, radix: 16, uppercase: true).leftPadded(to: 4)), not allowed in a domain name (IDNA2008)")
        }
        guard let encoded = Punycode.encode(label) else { throw Failure("the label '\(label)' cannot be encoded") }
        let result = "xn--" + encoded
        guard result.utf8.count <= 63 else {
            throw Failure("the label '\(label)' is \(result.utf8.count) octets as an A-label (\(result.prefix(24))…), over 63")
        }
        return result
    }

    static func isMark(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark: true
        default: false
        }
    }

    /// Letters (not upper or title case), combining marks (not enclosing), decimal
    /// digits, and the ASCII letters, digits and hyphen.
    static func isLabelScalar(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.isASCII {
            let byte = UInt8(scalar.value)
            return EmailAddress.isAlnum(byte) || byte == UInt8(ascii: "-")
        }
        switch scalar.properties.generalCategory {
        case .lowercaseLetter, .otherLetter, .modifierLetter, .nonspacingMark, .spacingMark, .decimalNumber: return true
        default: return false
        }
    }

    static func lowercasedASCII(_ text: String) -> String {
        guard text.utf8.contains(where: { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }) else { return text }
        return String(decoding: text.utf8.map { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") ? $0 | 0x20 : $0 }, as: UTF8.self)
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
