import KilnCore

/// Header values from user data, checked and encoded.
public enum HeaderField {
    /// Refuses a value carrying CR or LF (header injection), naming the field.
    public static func checked(_ value: String, field: String) throws(KilnError) -> String {
        if value.unicodeScalars.contains(where: { $0 == "\r" || $0 == "\n" || $0 == "\u{0}" }) {
            throw KilnError(.headerInjection, "a line break is not allowed in a header value", location: field)
        }
        return value
    }

    /// The value as is when it is printable ASCII that can fold (no run without a space
    /// longer than 76 octets), else as RFC 2047 encoded words (`=?UTF-8?B?...?=`), each
    /// at most 75 characters, split on character boundaries, one per folded line: so no
    /// line passes 78 octets (RFC 5322 §2.1.1 allows 998) whatever the value.
    public static func encodedWords(_ value: String) -> String {
        if value.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }), !hasUnfoldableRun(value) { return value }
        var words: [String] = []
        var chunk: [UInt8] = []
        // 75 - len("=?UTF-8?B??=") = 63 base64 characters = 45 bytes.
        for character in value {
            let bytes = Array(String(character).utf8)
            if chunk.count + bytes.count > 45 {
                words.append("=?UTF-8?B?\(Base64.encode(chunk))?=")
                chunk.removeAll()
            }
            chunk += bytes
        }
        if !chunk.isEmpty { words.append("=?UTF-8?B?\(Base64.encode(chunk))?=") }
        return words.joined(separator: "\r\n ")
    }

    /// Refuses a value with NUL, a bare CR or LF, or a CRLF that is not folding: CRLF must
    /// be followed by a space or a tab and then more than white space (a line of white
    /// space alone could end the header section for some readers).
    ///
    /// | value | |
    /// |---|---|
    /// | `=?UTF-8?B?…?=\r\n =?UTF-8?B?…?=` | accepted |
    /// | `a\r\nBcc: x@example.com`, `a\nb`, `a\rb`, `a\0b` | refused |
    /// | `a\r\n \r\n b`, `a\r\n` | refused |
    public static func checkFolding(_ value: String, field: String) throws(KilnError) {
        let bytes = value.utf8
        guard bytes.contains(where: { $0 == 13 || $0 == 10 || $0 == 0 }) else { return }
        var index = bytes.startIndex
        var continuation = false  // inside a folded line that has shown only white space
        while index != bytes.endIndex {
            let byte = bytes[index]
            switch byte {
            case 0:
                throw KilnError(.headerInjection, "a NUL is not allowed in a header value", location: field)
            case 13:
                let lf = bytes.index(after: index)
                guard !continuation, lf != bytes.endIndex, bytes[lf] == 10 else { break }
                let wsp = bytes.index(after: lf)
                guard wsp != bytes.endIndex, bytes[wsp] == 32 || bytes[wsp] == 9 else { break }
                continuation = true
                index = bytes.index(after: wsp)
                continue
            case 10:
                break
            case 32, 9:
                index = bytes.index(after: index)
                continue
            default:
                continuation = false
                index = bytes.index(after: index)
                continue
            }
            throw KilnError(.headerInjection, "a line break is not allowed in a header value (only folding: CRLF, then a space or a tab and text)", location: field)
        }
        if continuation {
            throw KilnError(.headerInjection, "a header value must not end in a folded line of white space", location: field)
        }
    }

    /// Whether `value` has a run of more than 76 octets without a space, which folding
    /// at spaces cannot break.
    static func hasUnfoldableRun(_ value: String) -> Bool {
        var run = 0
        for byte in value.utf8 {
            run = byte == 32 ? 0 : run + 1
            if run > 76 { return true }
        }
        return false
    }

    /// The longest header field of `message` (its header section: up to the first empty
    /// line), folded lines included, with its name and length in octets (CRLF excluded).
    /// - Parameter offset: where the header starts in `message` (after lines put in front).
    public static func longestField(in message: [UInt8], from offset: Int = 0) -> (name: String, octets: Int)? {
        var longest: (name: String, octets: Int)?
        var start = offset, current = offset, nameEnd = offset, i = offset
        func close(at end: Int) {
            let octets = end - start
            if octets > (longest?.octets ?? -1) { longest = (String(decoding: message[start..<nameEnd], as: UTF8.self), octets) }
        }
        while i < message.count {
            guard let lf = message[i...].firstIndex(of: 10) else { break }
            let lineEnd = lf > i && message[lf - 1] == 13 ? lf - 1 : lf
            if lineEnd == i { break }  // the empty line: the body starts
            if message[i] == 32 || message[i] == 9 {
                current = lineEnd
            } else {
                if i > offset { close(at: current) }
                start = i
                current = lineEnd
                nameEnd = message[i..<lineEnd].firstIndex(of: UInt8(ascii: ":")) ?? lineEnd
            }
            i = lf + 1
        }
        if i > offset { close(at: current) }
        return longest
    }

    /// A mailbox with an optional display name: `"Name" <addr>` (the name encoded per
    /// RFC 2047 when not ASCII, quoted when it has specials).
    public static func mailbox(_ address: EmailAddress, displayName: String?, field: String) throws(KilnError) -> String {
        guard let name = displayName, !name.isEmpty else { return address.description }
        let checkedName = try checked(name, field: field)
        if checkedName.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) {
            let escaped = checkedName.replacingAll("\\", with: "\\\\").replacingAll("\"", with: "\\\"")
            return "\"\(escaped)\" <\(address)>"
        }
        return "\(encodedWords(checkedName)) <\(address)>"
    }

    /// `Name: value`, folded at spaces so that lines stay under 78 characters where
    /// possible (RFC 5322 §2.2.3), with CRLF. This is where every header is written, so it
    /// checks again whatever the value went through before: a name that is not printable
    /// ASCII without a colon, or a value with NUL or a CR or LF that is not folding, is
    /// refused (`headerInjection`), never written.
    public static func line(_ name: String, _ value: String) throws(KilnError) -> String {
        guard !name.isEmpty, name.utf8.allSatisfy({ $0 > 32 && $0 < 127 && $0 != UInt8(ascii: ":") }) else {
            throw KilnError(.headerInjection, "'\(name.escapingControlCharacters)' is not a valid header name", location: "headers")
        }
        try checkFolding(value, field: name)
        let full = "\(name): \(value)"
        // `checkFolding` let a CR through only as folding: a CR means the value is folded.
        if full.utf8.count <= 78 || value.utf8.contains(13) { return full + "\r\n" }
        // Break before a space once the line would pass 78 octets.
        let bytes = Array(full.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + bytes.count / 40 * 2 + 2)
        var lineStart = 0
        var wordStart = 0
        var i = 0
        while i <= bytes.count {
            if i == bytes.count || (bytes[i] == 32 && i > wordStart) {
                // The word bytes[wordStart..<i] (with its leading space, if any).
                if i - lineStart > 78 && wordStart > lineStart {
                    out += [13, 10]
                    lineStart = wordStart
                }
                out.append(contentsOf: bytes[wordStart..<i])
                wordStart = i
            }
            i += 1
        }
        out += [13, 10]
        return String(decoding: out, as: UTF8.self)
    }
}

extension String {
    func replacingAll(_ target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
