/// The RFC 5321 §4.1.2 mailbox grammar, extended for UTF-8 by RFC 6531, checked over bytes.
///
/// | part | accepted |
/// |---|---|
/// | local part, Dot-string | `Atom *("." Atom)`, atext plus valid UTF-8 beyond ASCII |
/// | local part, Quoted-string | `"` qtextSMTP (32–33, 35–91, 93–126), `\` + 32–126, UTF-8 beyond ASCII `"` |
/// | domain | two or more labels `Let-dig [Ldh-str]` (UTF-8 beyond ASCII allowed), each ≤ 63 octets |
/// | address literal | `[IPv4]`, `[IPv6:…]`, `[tag:dcontent]` (see `EmailAddress+Literal.swift`) |
///
/// No control character passes anywhere: C0 (0x00–0x1F, so CR, LF, NUL and TAB), DEL and
/// the C1 controls U+0080–U+009F. Bytes beyond ASCII must be well-formed UTF-8 (no
/// overlong forms, surrogates, code points above U+10FFFF, stray or missing continuation
/// bytes); U+FFFD, the mark a lossy decoder leaves for invalid UTF-8, counts as invalid.
extension EmailAddress {
    /// The part of an address a flaw is in.
    enum Part: String, Sendable {
        case localPart = "local part"
        case domain
    }

    /// What makes a text not an address; the first one found.
    enum Flaw: Equatable, Sendable {
        case noAt
        case control(Part)
        case invalidUTF8(Part)
        case invalidLocalPart
        case localPartTooLong
        case invalidDomain
        case invalidLiteral
        case domainTooLong
        case tooLong
        /// Longer than 254 octets once the domain is in A-label form.
        case tooLongAsASCII
        /// A non-ASCII domain without an A-label form (RFC 5891), and why.
        case internationalDomain(String)

        /// The error message for `text` (already escaped for display).
        func message(_ text: String) -> String {
            switch self {
            case .noAt: return "'\(text)' is not an email address: no '@'"
            case .control(let part): return "'\(text)' has a control character in its \(part.rawValue)"
            case .invalidUTF8(let part): return "'\(text)' has invalid UTF-8 in its \(part.rawValue)"
            case .invalidLocalPart: return "'\(text)' has an invalid local part"
            case .localPartTooLong: return "'\(text)' has a local part longer than 64 octets"
            case .invalidDomain: return "'\(text)' has an invalid domain"
            case .invalidLiteral: return "'\(text)' has an invalid address literal (not [IPv4], [IPv6:address] or [tag:text])"
            case .domainTooLong: return "'\(text)' has a domain longer than 255 octets"
            case .tooLong: return "'\(text)' is longer than 254 octets"
            case .tooLongAsASCII: return "'\(text)' is longer than 254 octets with its domain in A-label form"
            case .internationalDomain(let why): return "'\(text)' has an internationalized domain with no A-label form (RFC 5891): \(why)"
            }
        }
    }

    /// The flaw of a whole address text (`local@domain`, already trimmed), nil when valid.
    /// Control characters and invalid UTF-8 are reported before the grammar, so that the
    /// message names the dangerous byte rather than a syntax detail.
    static func flaw(ofTrimmed bytes: UnsafeBufferPointer<UInt8>) -> Flaw? {
        var at = bytes.count - 1
        while at >= 0, bytes[at] != UInt8(ascii: "@") { at -= 1 }
        guard at >= 0 else { return .noAt }
        let local = UnsafeBufferPointer(rebasing: bytes[..<at])
        let domain = UnsafeBufferPointer(rebasing: bytes[(at + 1)...])
        if let flaw = textFlaw(local, .localPart) ?? textFlaw(domain, .domain) { return flaw }
        if let flaw = localPartFlaw(local) ?? domainFlaw(domain) { return flaw }
        if bytes.count > 254 { return .tooLong }
        if domain.contains(where: { $0 >= 0x80 }), domain[0] != UInt8(ascii: "["),
           let converted = try? IDNA.asciiDomain(String(decoding: domain, as: UTF8.self)), local.count + 1 + converted.utf8.count > 254 {
            return .tooLongAsASCII
        }
        return nil
    }

    /// A control character or invalid UTF-8 anywhere in `bytes`.
    static func textFlaw(_ bytes: UnsafeBufferPointer<UInt8>, _ part: Part) -> Flaw? {
        var i = 0
        while i < bytes.count {
            let byte = bytes[i]
            if byte < 0x80 {
                if byte < 0x20 || byte == 0x7F { return .control(part) }
                i += 1
                continue
            }
            let length = scalarLength(bytes, at: i)
            if length == controlScalar { return .control(part) }
            if length == invalidScalar { return .invalidUTF8(part) }
            i += length
        }
        return nil
    }

    /// `scalarLength` for a C1 control character.
    static let controlScalar = -1
    /// `scalarLength` for bytes that are not well-formed UTF-8 (or are U+FFFD).
    static let invalidScalar = 0

    /// The length (2–4) of the well-formed UTF-8 sequence of a scalar beyond ASCII that
    /// starts at `i`; `controlScalar` for U+0080–U+009F, `invalidScalar` for anything that
    /// is not well-formed (Unicode Table 3-7) and for U+FFFD.
    @inline(__always)
    static func scalarLength(_ bytes: UnsafeBufferPointer<UInt8>, at i: Int) -> Int {
        let lead = bytes[i], end = bytes.count
        @inline(__always) func continuation(_ k: Int, _ low: UInt8 = 0x80, _ high: UInt8 = 0xBF) -> Bool {
            i + k < end && bytes[i + k] >= low && bytes[i + k] <= high
        }
        switch lead {
        case 0xC2...0xDF:
            guard continuation(1) else { return invalidScalar }
            return lead == 0xC2 && bytes[i + 1] <= 0x9F ? controlScalar : 2
        case 0xE0:
            return continuation(1, 0xA0) && continuation(2) ? 3 : invalidScalar
        case 0xE1...0xEC, 0xEE:
            return continuation(1) && continuation(2) ? 3 : invalidScalar
        case 0xED:  // not the surrogates U+D800–U+DFFF
            return continuation(1, 0x80, 0x9F) && continuation(2) ? 3 : invalidScalar
        case 0xEF:
            guard continuation(1) && continuation(2) else { return invalidScalar }
            return bytes[i + 1] == 0xBF && bytes[i + 2] == 0xBD ? invalidScalar : 3
        case 0xF0:
            return continuation(1, 0x90) && continuation(2) && continuation(3) ? 4 : invalidScalar
        case 0xF1...0xF3:
            return continuation(1) && continuation(2) && continuation(3) ? 4 : invalidScalar
        case 0xF4:  // not above U+10FFFF
            return continuation(1, 0x80, 0x8F) && continuation(2) && continuation(3) ? 4 : invalidScalar
        default:  // a stray continuation byte, an overlong lead (C0, C1) or F5–FF
            return invalidScalar
        }
    }

    /// The flaw of a local part: a Dot-string or a Quoted-string of 1–64 octets.
    static func localPartFlaw(_ bytes: UnsafeBufferPointer<UInt8>) -> Flaw? {
        guard !bytes.isEmpty else { return .invalidLocalPart }
        guard bytes.count <= 64 else { return .localPartTooLong }
        if bytes[0] == UInt8(ascii: "\"") { return quotedFlaw(bytes) }
        var i = 0
        var atomStart = true
        while i < bytes.count {
            let byte = bytes[i]
            if byte >= 0x80 {
                let length = scalarLength(bytes, at: i)
                if length <= invalidScalar { return length == controlScalar ? .control(.localPart) : .invalidUTF8(.localPart) }
                i += length
                atomStart = false
                continue
            }
            if byte == UInt8(ascii: ".") {
                if atomStart { return .invalidLocalPart }  // a leading dot, or two in a row
                atomStart = true
            } else if isAtext(byte) {
                atomStart = false
            } else {
                return byte < 0x20 || byte == 0x7F ? .control(.localPart) : .invalidLocalPart
            }
            i += 1
        }
        return atomStart ? .invalidLocalPart : nil  // a trailing dot
    }

    /// The flaw of `"…"`: qtextSMTP, quoted-pairSMTP and UTF-8 beyond ASCII, closed by the
    /// last byte.
    static func quotedFlaw(_ bytes: UnsafeBufferPointer<UInt8>) -> Flaw? {
        var i = 1
        while i < bytes.count {
            let byte = bytes[i]
            switch byte {
            case UInt8(ascii: "\""):
                return i == bytes.count - 1 ? nil : .invalidLocalPart
            case UInt8(ascii: "\\"):
                guard i + 1 < bytes.count else { return .invalidLocalPart }
                let quoted = bytes[i + 1]
                guard quoted >= 32 && quoted <= 126 else {
                    return quoted < 0x20 || quoted == 0x7F ? .control(.localPart) : .invalidLocalPart
                }
                i += 2
            case 32...126:
                i += 1
            case 0x80...:
                let length = scalarLength(bytes, at: i)
                if length <= invalidScalar { return length == controlScalar ? .control(.localPart) : .invalidUTF8(.localPart) }
                i += length
            default:
                return .control(.localPart)
            }
        }
        return .invalidLocalPart  // not closed
    }

    /// The flaw of a domain: two or more labels, or an address literal. A domain beyond
    /// ASCII must have an A-label form (`IDNA.asciiDomain`).
    static func domainFlaw(_ bytes: UnsafeBufferPointer<UInt8>) -> Flaw? {
        guard !bytes.isEmpty else { return .invalidDomain }
        guard bytes.count <= 255 else { return .domainTooLong }
        if bytes[0] == UInt8(ascii: "[") { return literalFlaw(bytes) }
        var labels = 0, labelStart = 0, i = 0
        var ascii = true
        while i <= bytes.count {
            if i < bytes.count, bytes[i] != UInt8(ascii: ".") {
                let byte = bytes[i]
                if byte >= 0x80 {
                    let length = scalarLength(bytes, at: i)
                    if length <= invalidScalar { return length == controlScalar ? .control(.domain) : .invalidUTF8(.domain) }
                    ascii = false
                    i += length
                    continue
                }
                guard isAlnum(byte) || byte == UInt8(ascii: "-") else {
                    return byte < 0x20 || byte == 0x7F ? .control(.domain) : .invalidDomain
                }
                i += 1
                continue
            }
            let length = i - labelStart
            guard length > 0, length <= 63, bytes[labelStart] != UInt8(ascii: "-"), bytes[i - 1] != UInt8(ascii: "-") else {
                return .invalidDomain
            }
            labels += 1
            labelStart = i + 1
            i += 1
        }
        guard labels >= 2 else { return .invalidDomain }
        if !ascii {
            do { _ = try IDNA.asciiDomain(String(decoding: bytes, as: UTF8.self)) } catch { return .internationalDomain(error.description) }
        }
        return nil
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

    static func isAlnum(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
    }
}
