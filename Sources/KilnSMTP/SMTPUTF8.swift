import KilnCore

/// SMTPUTF8 (RFC 6531, RFC 6532) on the way out: a message whose envelope or header needs
/// UTF-8 goes only to a receiver that offers SMTPUTF8 in its EHLO reply, and never in raw
/// UTF-8 to one that does not.
///
/// Domains are never the reason: they go out as A-labels (`IDNA.asciiAddress`, applied to
/// MAIL FROM and RCPT TO just before curl sees them). What needs SMTPUTF8 is a non-ASCII
/// local part in the envelope, or UTF-8 in the header (a From or To address with a
/// non-ASCII local part; a raw message's 8-bit header).
///
/// libcurl 7.88 reads the EHLO reply itself and adds ` SMTPUTF8` to MAIL FROM when the
/// receiver offers it and the envelope sender or a recipient is not ASCII; when the
/// receiver does not offer it, curl sends the UTF-8 address anyway. So Kiln reads the
/// same EHLO reply (the lines curl's header callback passes on) in the prerequest
/// callback, which runs after EHLO and before MAIL FROM, and aborts a transfer that needs
/// SMTPUTF8 the receiver does not offer: nothing of the transaction is sent, and the job
/// gets a local permanent reply (RFC 6531 §3.7.4.1's code):
///
/// | the job needs | receiver offers SMTPUTF8 | result |
/// |---|---|---|
/// | nothing (ASCII envelope and header) | either | sent as before |
/// | SMTPUTF8 for the envelope | yes | sent; curl adds ` SMTPUTF8` to MAIL FROM |
/// | SMTPUTF8 for the envelope or the header | no | `553 5.6.7 kiln: non-ASCII address … does not offer SMTPUTF8`: not sent |
/// | SMTPUTF8 for the header only | yes | sent, but without the parameter: curl 7.88 adds it only for a non-ASCII envelope |
/// | anything, on a reused connection whose EHLO was never seen | — | `451 4.3.0` local: retried on a fresh connection |
///
/// The refusal is `permanent-message` by the built-in table (status X.6.x): the message
/// bounces, the recipient is not suppressed (the address is fine; this receiver cannot
/// take it), the IP is not blamed. The next MX host is not tried: a domain's MX hosts
/// share their software, as Postfix also assumes when it bounces such a message.
enum SMTPUTF8 {
    /// Why a job needs SMTPUTF8.
    enum Need: Equatable {
        case none
        /// A non-ASCII local part in MAIL FROM or RCPT TO.
        case envelope
        /// UTF-8 in the message header, with an ASCII envelope.
        case header
    }

    /// What `mailFrom`, `recipient` (domains already in A-label form) and the message
    /// need.
    static func need(mailFrom: String, recipient: String, body: [UInt8]) -> Need {
        if !isASCII(mailFrom) || !isASCII(recipient) { return .envelope }
        return headerHasEightBit(body) ? .header : .none
    }

    static func isASCII(_ text: String) -> Bool { text.utf8.allSatisfy { $0 < 0x80 } }

    /// Whether the header section of `message` (up to its first empty line) has a byte
    /// beyond ASCII.
    static func headerHasEightBit(_ message: [UInt8]) -> Bool {
        var lineStart = true
        for byte in message {
            if lineStart, byte == 13 || byte == 10 { return false }
            if byte >= 0x80 { return true }
            lineStart = byte == 10
        }
        return false
    }

    /// Whether the EHLO reply in `transcript` (the server lines of one session so far)
    /// offers SMTPUTF8: the last 250 reply before MAIL FROM is the EHLO reply (after
    /// STARTTLS, the second one), whose lines after the first are keywords. nil when the
    /// transcript holds no 250 reply (a reused connection: its EHLO came earlier).
    static func offered(in transcript: [UInt8]) -> Bool? {
        guard let ehlo = SMTPReplyCapture.replySpans(in: transcript).last(where: { $0.code == 250 }) else { return nil }
        let keyword = Array("smtputf8".utf8)
        for line in transcript[ehlo.bytes].split(whereSeparator: { $0 == 10 || $0 == 13 }).dropFirst() {
            let word = line.dropFirst(4).prefix { $0 != 32 }
            if word.count == keyword.count, zip(word, keyword).allSatisfy({ ($0 >= 65 && $0 <= 90 ? $0 | 0x20 : $0) == $1 }) { return true }
        }
        return false
    }

    /// The local reply of a job that needs SMTPUTF8 the receiver does not offer.
    static func refusal(_ need: Need) -> SMTPReply {
        let what = need == .header ? "UTF-8 in the message header (a non-ASCII address)" : "non-ASCII address"
        return SMTPReply(code: 553, enhancedStatus: "5.6.7",
                         text: "kiln: \(what) and the receiver does not offer SMTPUTF8 (RFC 6531 §3.7.4.1): not sent", isLocal: true)
    }

    /// The local reply when a reused connection's EHLO reply was never seen.
    static let unknown = SMTPReply(code: 451, enhancedStatus: "4.3.0",
                                   text: "kiln: the message needs SMTPUTF8 and this connection's EHLO reply was not seen: retried on a new connection",
                                   isLocal: true)
}

/// What the receiver of a lane said in its last EHLO reply seen, for its connections
/// reused later (curl does not say EHLO again on them). Confined to the lane's thread.
final class ReceiverTraits {
    var offersSMTPUTF8: Bool?
}
