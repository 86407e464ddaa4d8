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
        var text = text
        return text.withUTF8 { encode(bytes: $0) }
    }

    /// Soft line breaks keep lines at 76 columns; CR, LF and CRLF become CRLF; a space or
    /// tab before a line end, `=`, and bytes outside printable ASCII are encoded.
    public static func encode(bytes input: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        let n = input.count
        // At worst every byte becomes "=XX", plus a soft break every 25 of them.
        let capacity = n * 3 + (n / 24 + 2) * 3
        return [UInt8](unsafeUninitializedCapacity: capacity) { out, written in
            let digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
                (48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 65, 66, 67, 68, 69, 70)
            func hex(_ v: UInt8) -> UInt8 { withUnsafeBytes(of: digits) { $0[Int(v)] } }
            var o = 0
            var column = 0
            var i = 0
            while i < n {
                let byte = input[i]
                if byte == 13, i + 1 < n, input[i + 1] == 10 { i += 1; continue }  // CR of CRLF
                if byte == 10 || byte == 13 {
                    out[o] = 13; out[o + 1] = 10; o += 2
                    column = 0
                    i += 1
                    continue
                }
                let nextIsEnd = i + 1 >= n || input[i + 1] == 10 || input[i + 1] == 13
                let literal = (byte >= 33 && byte <= 126 && byte != 61) || ((byte == 32 || byte == 9) && !nextIsEnd)
                // A leading '.' is encoded so that no line starts with one (SMTP transparency).
                let width = literal && !(byte == 46 && column == 0) ? 1 : 3
                if column + width > 75 {  // soft line break
                    out[o] = 61; out[o + 1] = 13; out[o + 2] = 10; o += 3
                    column = 0
                }
                if width == 1 {
                    out[o] = byte; o += 1
                } else {
                    out[o] = 61; out[o + 1] = hex(byte >> 4); out[o + 2] = hex(byte & 0x0F); o += 3
                }
                column += width
                i += 1
            }
            written = o
        }
    }
}
