extension StringProtocol {
    /// The text with each control character written as an escape, for echoing untrusted
    /// text in an error, a log line or a terminal: it cannot start a new line there or send
    /// a terminal command.
    ///
    /// | character | written |
    /// |---|---|
    /// | CR, LF, TAB, NUL | `\r`, `\n`, `\t`, `\0` |
    /// | other C0, DEL, C1 (U+0080–U+009F), U+2028, U+2029 | `\u{1B}`, `\u{7F}`, `\u{85}`, `\u{2028}` |
    public var escapingControlCharacters: String {
        if utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) { return String(self) }
        var out = ""
        out.reserveCapacity(utf8.count + 8)
        for scalar in unicodeScalars {
            switch scalar.value {
            case 0x0D: out += "\\r"
            case 0x0A: out += "\\n"
            case 0x09: out += "\\t"
            case 0x00: out += "\\0"
            case 0x01...0x1F, 0x7F...0x9F, 0x2028, 0x2029:
                out += "\\u{\(String(scalar.value, radix: 16, uppercase: true))}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
