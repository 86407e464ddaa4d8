import Crypto
import Foundation
import KilnCore

/// `Feedback-ID: a:b:c:SenderId` (Gmail's feedback loop): four non-empty, distinct fields
/// without colons, identifying a campaign, never a person.
public struct FeedbackID: Hashable, Sendable, CustomStringConvertible {
    public let fields: [String]

    /// - Parameters:
    ///   - campaign: `a`, e.g. the campaign id.
    ///   - category: `b`, e.g. the line of business or customer.
    ///   - stream: `c`, the sending stream (the configuration set).
    ///   - senderId: the sender's id from the configuration.
    public init(campaign: String, category: String, stream: String, senderId: String) throws(KilnError) {
        let named = [("campaign", campaign), ("category", category), ("stream", stream), ("senderId", senderId)]
        for (name, value) in named {
            let place = "Feedback-ID \(name)"
            _ = try HeaderField.checked(value, field: place)
            guard !value.isEmpty else { throw KilnError(.invalidMessage, "must not be empty", location: place) }
            guard !value.utf8.contains(UInt8(ascii: ":")) else { throw KilnError(.invalidMessage, "'\(value)' must not contain a colon", location: place) }
            guard value.unicodeScalars.allSatisfy({ $0.value > 32 && $0.value < 127 }) else {
                throw KilnError(.invalidMessage, "'\(value)' must be printable ASCII without spaces", location: place)
            }
            // A template variable would make it differ per recipient.
            guard !zip(value.utf8, value.utf8.dropFirst()).contains(where: { $0 == UInt8(ascii: "{") && $1 == UInt8(ascii: "{") }) else {
                throw KilnError(.invalidMessage, "'\(value)' would differ per recipient; Feedback-ID identifies a campaign, not a person", location: place)
            }
        }
        guard Set(named.map(\.1)).count == 4 else {
            throw KilnError(.invalidMessage, "the four fields must be distinct (\(named.map(\.1).joined(separator: ":")))", location: "Feedback-ID")
        }
        fields = named.map(\.1)
    }

    public var description: String { fields.joined(separator: ":") }
}

/// The per-recipient token of a one-click unsubscribe link: the recipient, list and
/// campaign, sealed with ChaCha20-Poly1305 under a key derived from the list's secret
/// (HKDF-SHA256), base64url after a `2`. The token is opaque: the address never appears
/// in a URL, a header or a log line, and `verify` gives back what was sealed, or nil for a
/// forged or altered token. Tokens of the earlier form (the fields in base64url, a dot,
/// their HMAC-SHA256) still verify, so links already sent keep working.
public struct UnsubscribeToken: Hashable, Sendable {
    public var recipient: String
    public var list: String
    public var campaign: String

    public init(recipient: String, list: String, campaign: String) {
        self.recipient = recipient
        self.list = list
        self.campaign = campaign
    }

    public func make(secret: [UInt8]) -> String {
        make(key: Key(secret: secret))
    }

    /// A secret with its key derivation done once: `make(key:)` seals each token with it.
    public struct Key: Sendable {
        let sealing: SymmetricKey

        public init(secret: [UInt8]) {
            sealing = Self.sealingKey(secret)
        }

        static func sealingKey(_ secret: [UInt8]) -> SymmetricKey {
            HKDF<SHA256>.deriveKey(inputKeyMaterial: SymmetricKey(data: secret), info: Array("kiln unsubscribe token 2".utf8), outputByteCount: 32)
        }
    }

    /// The current form's first character.
    static let version: Character = "2"

    public func make(key: Key) -> String {
        let payload = Array([recipient, list, campaign].joined(separator: "\n").utf8)
        // A fresh random nonce per token: 96 bits, no repeat to fear at any sending volume.
        guard let sealed = try? ChaChaPoly.seal(payload, using: key.sealing).combined else { return "" }
        return String(Self.version) + Self.base64url(Array(sealed))
    }

    public static func verify(_ token: String, secret: [UInt8]) -> UnsubscribeToken? {
        let payload: [UInt8]
        if token.first == version, !token.contains(".") {
            guard let combined = unbase64url(token.dropFirst()), let box = try? ChaChaPoly.SealedBox(combined: combined),
                  let opened = try? ChaChaPoly.open(box, using: Key.sealingKey(secret)) else { return nil }
            payload = Array(opened)
        } else {
            // The earlier form, for links already sent: fields and their HMAC.
            let parts = token.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count == 2, let signed = unbase64url(parts[0]), let mac = unbase64url(parts[1]) else { return nil }
            guard HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: signed, using: SymmetricKey(data: secret)) else { return nil }
            payload = signed
        }
        let fields = String(decoding: payload, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard fields.count == 3 else { return nil }
        return UnsubscribeToken(recipient: fields[0], list: fields[1], campaign: fields[2])
    }

    /// A token of the earlier, signed-only form (its fields readable): for tests of links
    /// already sent.
    public func makeSignedOnly(secret: [UInt8]) -> String {
        let payload = Array([recipient, list, campaign].joined(separator: "\n").utf8)
        var hmac = HMAC<SHA256>(key: SymmetricKey(data: secret))
        hmac.update(data: payload)
        return Self.base64url(payload) + "." + Self.base64url(Array(hmac.finalize()))
    }

    static func base64url(_ bytes: [UInt8]) -> String {
        var out = Base64.encodeBytes(bytes, lineLength: nil)
        while out.last == UInt8(ascii: "=") { out.removeLast() }
        for i in out.indices {
            if out[i] == UInt8(ascii: "+") { out[i] = UInt8(ascii: "-") } else if out[i] == UInt8(ascii: "/") { out[i] = UInt8(ascii: "_") }
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func unbase64url(_ text: Substring) -> [UInt8]? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        return Data(base64Encoded: base64).map { [UInt8]($0) }
    }
}

/// The headers Kiln adds to every bulk message before signing: Feedback-ID, and the
/// RFC 8058 one-click pair `List-Unsubscribe` / `List-Unsubscribe-Post`.
public struct BulkHeaders: Sendable {
    public var feedbackID: FeedbackID?
    /// The HTTPS endpoint (`https://host/u`); the token goes in `?t=`.
    public var unsubscribeURL: String?
    /// The mailto address; the token goes in the subject.
    public var unsubscribeMailto: String?
    public var secret: [UInt8]

    public init(feedbackID: FeedbackID?, unsubscribeURL: String?, unsubscribeMailto: String?, secret: [UInt8]) {
        self.feedbackID = feedbackID
        self.unsubscribeURL = unsubscribeURL
        self.unsubscribeMailto = unsubscribeMailto
        self.secret = secret
    }

    /// The header lines (CRLF-terminated) for one recipient; an error (`headerInjection`)
    /// when a value would carry a line break.
    public func lines(for token: UnsubscribeToken) throws(KilnError) -> [UInt8] {
        try prepared().lines(for: token)
    }

    /// What does not change from one recipient to the next, worked out once: the
    /// Feedback-ID line, the unsubscribe targets before the token, the HMAC key.
    public func prepared() throws(KilnError) -> Prepared {
        Prepared(feedbackLine: try feedbackID.map { id throws(KilnError) in Array(try HeaderField.line("Feedback-ID", id.description).utf8) } ?? [],
                 urlPrefix: unsubscribeURL.map { "<\($0)\($0.utf8.contains(UInt8(ascii: "?")) ? "&" : "?")t=" },
                 mailtoPrefix: unsubscribeMailto.map { "<mailto:\($0)?subject=unsubscribe-" },
                 key: UnsubscribeToken.Key(secret: secret))
    }

    public struct Prepared: Sendable {
        let feedbackLine: [UInt8]
        let urlPrefix: String?
        let mailtoPrefix: String?
        let key: UnsubscribeToken.Key

        public func lines(for token: UnsubscribeToken) throws(KilnError) -> [UInt8] {
            var out: [UInt8] = []
            try append(for: token, to: &out)
            return out
        }

        /// Appends the header lines for one recipient to `out`.
        public func append(for token: UnsubscribeToken, to out: inout [UInt8]) throws(KilnError) {
            out += feedbackLine
            guard urlPrefix != nil || mailtoPrefix != nil else { return }
            let value = token.make(key: key)
            var targets: [String] = []
            if let urlPrefix { targets.append(urlPrefix + value + ">") }
            if let mailtoPrefix { targets.append(mailtoPrefix + value + ">") }
            out += try HeaderField.line("List-Unsubscribe", targets.joined(separator: ", ")).utf8
            if urlPrefix != nil { out += "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n".utf8 }
        }
    }
}
