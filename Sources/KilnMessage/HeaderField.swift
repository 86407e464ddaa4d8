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

    /// The value as is when it is printable ASCII, else as RFC 2047 encoded words
    /// (`=?UTF-8?B?...?=`), each at most 75 characters, split on character boundaries.
    public static func encodedWords(_ value: String) -> String {
        if value.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) { return value }
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
    /// possible (RFC 5322 §2.2.3), with CRLF.
    public static func line(_ name: String, _ value: String) -> String {
        let full = "\(name): \(value)"
        if full.utf8.count <= 78 || value.contains("\r\n") { return full + "\r\n" }
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
