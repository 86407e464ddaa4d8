/// Base64 (RFC 4648) with optional line wrapping for MIME bodies.
public enum Base64 {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    public static func encode(_ bytes: some Collection<UInt8>) -> String {
        String(decoding: encodeBytes(bytes, lineLength: nil), as: UTF8.self)
    }

    /// Base64 with CRLF after every `lineLength` characters (76 for MIME bodies).
    public static func encodeBytes(_ input: some Collection<UInt8>, lineLength: Int?) -> [UInt8] {
        let bytes = Array(input)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 4 / 3 + bytes.count / 38 + 8)
        var column = 0
        var i = 0
        while i < bytes.count {
            let b0 = bytes[i], b1 = i + 1 < bytes.count ? bytes[i + 1] : 0, b2 = i + 2 < bytes.count ? bytes[i + 2] : 0
            out.append(alphabet[Int(b0 >> 2)])
            out.append(alphabet[Int((b0 & 0x03) << 4 | b1 >> 4)])
            out.append(i + 1 < bytes.count ? alphabet[Int((b1 & 0x0F) << 2 | b2 >> 6)] : UInt8(ascii: "="))
            out.append(i + 2 < bytes.count ? alphabet[Int(b2 & 0x3F)] : UInt8(ascii: "="))
            i += 3
            column += 4
            if let lineLength, column >= lineLength, i < bytes.count {
                out.append(13); out.append(10)
                column = 0
            }
        }
        return out
    }
}

/// Quoted-printable (RFC 2045 §6.7) for text bodies: line ends become CRLF hard breaks,
/// lines are soft-broken at 76 characters.
public enum QuotedPrintable {
    static let hex = Array("0123456789ABCDEF".utf8)

    public static func encode(_ text: String) -> [UInt8] {
        var out: [UInt8] = []
        let input = Array(text.utf8)
        out.reserveCapacity(input.count + input.count / 8)
        var column = 0
        var i = 0
        while i < input.count {
            let byte = input[i]
            if byte == 13, i + 1 < input.count, input[i + 1] == 10 { i += 1; continue }  // CR of CRLF
            if byte == 10 || byte == 13 {
                out.append(13); out.append(10)
                column = 0
                i += 1
                continue
            }
            let nextIsEnd = i + 1 >= input.count || input[i + 1] == 10 || input[i + 1] == 13
            let literal = (byte >= 33 && byte <= 126 && byte != UInt8(ascii: "="))
                || ((byte == 32 || byte == 9) && !nextIsEnd)
            // A leading '.' is encoded so that no line starts with one (SMTP transparency).
            let width = literal && !(byte == UInt8(ascii: ".") && column == 0) ? 1 : 3
            if column + width > 75 {  // soft line break
                out.append(UInt8(ascii: "=")); out.append(13); out.append(10)
                column = 0
            }
            if width == 1 {
                out.append(byte)
            } else {
                out.append(UInt8(ascii: "=")); out.append(hex[Int(byte >> 4)]); out.append(hex[Int(byte & 0x0F)])
            }
            column += width
            i += 1
        }
        return out
    }
}
