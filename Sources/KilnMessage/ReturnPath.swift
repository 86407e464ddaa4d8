import Crypto
import KilnCore

/// The envelope sender (VERP) of one message, which ties what comes back to it:
/// `b+<id>-<mac>@<returnPathDomain>`, where `mac` is the first 50 bits of
/// HMAC-SHA256(secret, "kiln-return-path:<id>") in 10 lowercase base32 characters
/// (RFC 4648 alphabet). Without a secret the form is `b+<id>@domain`, which anyone can
/// guess by counting: such a return path is never trusted (`Trace.unverified`).
///
/// | secret | id | return path |
/// | --- | --- | --- |
/// | none | 42 | `b+42@bounce.example.com` |
/// | set | 42 | `b+42-<10 base32 chars>@bounce.example.com` |
public enum ReturnPath {
    /// What a return path found in a report says about the message it names.
    public enum Trace: Sendable, Hashable {
        /// The MAC checks out: the report is about this message.
        case verified(MessageID)
        /// A Kiln return path without a valid MAC (forged, guessed, or sent unsigned).
        case unverified(claimed: MessageID)
        /// No Kiln return path.
        case none
    }

    /// The characters of the MAC.
    public static let macLength = 10

    /// The HMAC of a secret with its key schedule done, for signing many return paths:
    /// `address(for:domain:key:)` copies it per message instead of deriving the padded
    /// keys again.
    public struct Key: Sendable {
        let hmac: HMAC<SHA256>

        public init(secret: [UInt8]) {
            hmac = HMAC<SHA256>(key: SymmetricKey(data: secret))
        }
    }

    /// The envelope sender of message `id`.
    public static func address(for id: MessageID, domain: String, secret: [UInt8]?) -> String {
        address(for: id, domain: domain, key: secret.flatMap { $0.isEmpty ? nil : Key(secret: $0) })
    }

    /// The envelope sender of message `id`, signed with a prepared key (nil: unsigned).
    public static func address(for id: MessageID, domain: String, key: Key?) -> String {
        guard let key else { return "b+\(id)@\(domain)" }
        return "b+\(id)-\(mac(for: id, key: key))@\(domain)"
    }

    /// The MAC of message `id`: 10 lowercase base32 characters.
    public static func mac(for id: MessageID, secret: [UInt8]) -> String {
        mac(for: id, key: Key(secret: secret))
    }

    static func mac(for id: MessageID, key: Key) -> String {
        var hmac = key.hmac
        hmac.update(data: Array("kiln-return-path:\(id)".utf8))
        var bits: UInt64 = 0
        for byte in hmac.finalize().prefix(8) { bits = bits << 8 | UInt64(byte) }
        return String(decoding: (0..<macLength).map { base32[Int(bits >> UInt64(59 - 5 * $0) & 31)] }, as: UTF8.self)
    }

    /// RFC 4648's base32 alphabet, lowercase.
    static let base32 = Array("abcdefghijklmnopqrstuvwxyz234567".utf8)

    /// The best trace among `values` (header values or bare addresses): a verified one
    /// first, else an unverified one, else none.
    public static func trace(_ values: [String], secret: [UInt8]?) -> Trace {
        var best = Trace.none
        for value in values {
            for candidate in candidates(in: value) {
                if let secret, !secret.isEmpty, let mac = candidate.mac, constantTimeEquals(mac.lowercased(), self.mac(for: candidate.id, secret: secret)) {
                    return .verified(candidate.id)
                }
                if case .none = best { best = .unverified(claimed: candidate.id) }
            }
        }
        return best
    }

    /// Every `b+<digits>[-<mac>]@` in `value`.
    static func candidates(in value: String) -> [(id: MessageID, mac: String?)] {
        let bytes = Array(value.utf8)
        var found: [(MessageID, String?)] = []
        var i = 0
        while i + 1 < bytes.count {
            defer { i += 1 }
            guard bytes[i] | 0x20 == UInt8(ascii: "b"), bytes[i + 1] == UInt8(ascii: "+") else { continue }
            // The local part starts here: nothing but a delimiter before it.
            if i > 0, !"<:; \t\"',".utf8.contains(bytes[i - 1]) { continue }
            var j = i + 2
            while j < bytes.count, bytes[j] >= 48, bytes[j] <= 57, j - i < 21 { j += 1 }
            guard j > i + 2, let id = Int64(String(decoding: bytes[(i + 2)..<j], as: UTF8.self)) else { continue }
            var mac: String?
            if j < bytes.count, bytes[j] == UInt8(ascii: "-") {
                let start = j + 1
                var k = start
                while k < bytes.count, k - start <= macLength, isAlphanumeric(bytes[k]) { k += 1 }
                mac = String(decoding: bytes[start..<k], as: UTF8.self)
                j = k
            }
            guard j < bytes.count, bytes[j] == UInt8(ascii: "@") else { continue }
            found.append((MessageID(id), mac))
        }
        return found
    }

    static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (byte >= 48 && byte <= 57) || ((byte | 0x20) >= 97 && (byte | 0x20) <= 122)
    }

    static func constantTimeEquals(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        return zip(x, y).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }
}
