import KilnCore

/// The last check before a string goes into an SMTP command, independent of
/// `EmailAddress`: libcurl writes `MAIL FROM:<…>`, `RCPT TO:<…>` and `EHLO …` as given,
/// so a CR or LF in one of them would end the command and start another (a smuggled
/// RSET, DATA and a forged message). A job that fails gets a local permanent reply and
/// never reaches curl.
///
/// | refused | reply |
/// |---|---|
/// | recipient with a byte < 0x20 or DEL, or `<` `>` outside quotes | `553 5.1.3 kiln: refused envelope recipient …` |
/// | envelope sender (MAIL FROM, and so its domain), the same | `553 5.1.7 kiln: refused envelope sender …` |
/// | EHLO name not printable ASCII, or with `%` `/` `?` `#` (curl reads it from a URL) | `553 5.3.5 kiln: refused EHLO name …` |
/// | destination host with a control character, a space or `/` `?` `#` `@` `%` | `553 5.3.5 kiln: refused destination host …` |
enum EnvelopeCheck {
    /// The reply refusing `job`, or nil when every string of its envelope is safe to send.
    static func refusal(_ job: SMTPJob, heloName: String) -> SMTPReply? {
        if !isSafeAddress(job.recipient, allowEmpty: false) {
            return SMTPReply(code: 553, enhancedStatus: "5.1.3", text: "kiln: refused envelope recipient with a control character or an unquoted angle bracket", isLocal: true)
        }
        if !isSafeAddress(job.mailFrom, allowEmpty: true) {
            return SMTPReply(code: 553, enhancedStatus: "5.1.7", text: "kiln: refused envelope sender with a control character or an unquoted angle bracket", isLocal: true)
        }
        if !isSafeName(heloName, extra: "%/?#") {
            return SMTPReply(code: 553, enhancedStatus: "5.3.5", text: "kiln: refused EHLO name with a control character or a URL delimiter", isLocal: true)
        }
        if !job.hops.allSatisfy({ isSafeName($0.url.host, extra: "%/?#@") && ($0.address.map { IPAddressBytes.parse($0) != nil } ?? true) }) {
            return SMTPReply(code: 553, enhancedStatus: "5.3.5", text: "kiln: refused destination host with a control character or a URL delimiter, or an address that is not an IP address", isLocal: true)
        }
        return nil
    }

    /// Whether `address` can go between `<` and `>`: no byte below 0x20, no DEL, and no
    /// `<` or `>` outside a quoted local part (which must be closed).
    static func isSafeAddress(_ address: String, allowEmpty: Bool) -> Bool {
        guard allowEmpty || !address.isEmpty else { return false }
        var quoted = false, escaped = false
        for byte in address.utf8 {
            if byte < 0x20 || byte == 0x7F { return false }
            if escaped { escaped = false; continue }
            switch byte {
            case UInt8(ascii: "\\") where quoted: escaped = true
            case UInt8(ascii: "\""): quoted.toggle()
            case UInt8(ascii: "<"), UInt8(ascii: ">"): if !quoted { return false }
            default: break
            }
        }
        return !quoted
    }

    /// Whether `name` is non-empty printable ASCII (no space) without any of `extra`.
    static func isSafeName(_ name: String, extra: String) -> Bool {
        !name.isEmpty && name.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F && !extra.utf8.contains($0) }
    }
}
