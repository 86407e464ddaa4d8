import Crypto
import CryptoExtras
import Foundation
import KilnCore

/// A DKIM signing key: RSA (2048 bits or more, rsa-sha256) or Ed25519 (ed25519-sha256,
/// RFC 8463).
public enum DKIMKey: Sendable {
    case rsa(_RSA.Signing.PrivateKey)
    case ed25519(Curve25519.Signing.PrivateKey)

    public var algorithm: String {
        switch self {
        case .rsa: "rsa-sha256"
        case .ed25519: "ed25519-sha256"
        }
    }

    /// The `p=` value of the key's DNS record (base64 of the SubjectPublicKeyInfo for
    /// RSA, of the raw 32-byte key for Ed25519).
    public var publicKeyRecord: String {
        switch self {
        case .rsa(let key): Data(key.publicKey.derRepresentation).base64EncodedString()
        case .ed25519(let key): key.publicKey.rawRepresentation.base64EncodedString()
        }
    }

    /// The TXT record value to publish at `selector._domainkey.domain`.
    public var dnsRecord: String { "v=DKIM1; k=\(algorithm.hasPrefix("ed25519") ? "ed25519" : "rsa"); p=\(publicKeyRecord)" }

    /// A new key: RSA of 2048 bits (`rsa-sha256`, which every receiver verifies) or Ed25519
    /// (`ed25519-sha256`, RFC 8463, best alongside an RSA key).
    public static func generate(algorithm: String) throws(KilnError) -> DKIMKey {
        switch algorithm {
        case "rsa-sha256":
            do { return .rsa(try _RSA.Signing.PrivateKey(keySize: .bits2048)) } catch {
                throw KilnError(.invalidInput, "cannot make an RSA key: \(error)", location: "--algorithm")
            }
        case "ed25519-sha256": return .ed25519(Curve25519.Signing.PrivateKey())
        default: throw KilnError(.invalidInput, "'\(algorithm)' is not rsa-sha256 or ed25519-sha256", location: "--algorithm")
        }
    }

    /// The key as a PKCS#8 PEM (`PRIVATE KEY`), as `load` reads it.
    public var pem: String {
        switch self {
        case .rsa(let key): return key.pkcs8PEMRepresentation
        case .ed25519(let key):
            // PKCS#8 for Ed25519 (RFC 8410): a fixed 16-byte prefix, then the 32-byte seed.
            let prefix: [UInt8] = [0x30, 0x2E, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]
            let body = Data(prefix + key.rawRepresentation).base64EncodedString(options: [.lineLength64Characters, .endLineWithLineFeed])
            return "-----BEGIN PRIVATE KEY-----\n\(body)\n-----END PRIVATE KEY-----\n"
        }
    }

    /// The largest key file read (an RSA 8192-bit PEM is about 6.5 KB); checked before
    /// reading.
    public static let maxKeyFileBytes = 64 * 1024

    /// Reads a PEM key (PKCS#1 `RSA PRIVATE KEY`, or PKCS#8 `PRIVATE KEY` holding RSA or
    /// Ed25519). A file that group or others may read is refused unless `allowInsecure`;
    /// so is one larger than `maxKeyFileBytes` or not a regular file, unread.
    /// - Parameter field: where the file is named in the configuration, for errors.
    public static func load(path: String, expectedAlgorithm: String? = nil, allowInsecure: Bool = false, field: String) throws(KilnError) -> DKIMKey {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw KilnError(.secretUnavailable, "cannot read the DKIM key \(path): \(String(cString: strerror(errno)))", location: field)
        }
        guard info.st_mode & S_IFMT == S_IFREG, info.st_size <= maxKeyFileBytes else {
            throw KilnError(.secretUnavailable, "the DKIM key \(path) is not a regular file of at most \(maxKeyFileBytes) bytes", location: field)
        }
        if info.st_mode & 0o077 != 0 && !allowInsecure {
            throw KilnError(.secretUnavailable, "the DKIM key \(path) may be read by group or others (mode \(String(info.st_mode & 0o777, radix: 8))); chmod 600 it, or set allowInsecureKeyFile", location: field)
        }
        guard let data = FileManager.default.contents(atPath: path), data.count <= maxKeyFileBytes else {
            throw KilnError(.secretUnavailable, "cannot read the DKIM key \(path)", location: field)
        }
        let key = try parse(pem: String(decoding: data, as: UTF8.self), field: field)
        if let expectedAlgorithm, expectedAlgorithm != key.algorithm {
            throw KilnError(.invalidConfiguration, "the key in \(path) is \(key.algorithm), not \(expectedAlgorithm)", location: field)
        }
        return key
    }

    /// Parses a PEM private key.
    public static func parse(pem: String, field: String) throws(KilnError) -> DKIMKey {
        if pem.contains("BEGIN RSA PRIVATE KEY") {
            do { return .rsa(try _RSA.Signing.PrivateKey(pemRepresentation: pem)) } catch {
                throw KilnError(.invalidConfiguration, "not a usable RSA key (2048 bits or more): \(error)", location: field)
            }
        }
        guard let der = pemBody(pem, label: "PRIVATE KEY") else {
            throw KilnError(.invalidConfiguration, "no PEM private key found (RSA PRIVATE KEY or PRIVATE KEY)", location: field)
        }
        // PKCS#8 Ed25519: SEQUENCE { INTEGER 0, SEQUENCE { OID 1.3.101.112 }, OCTET STRING { OCTET STRING (32) } }.
        let ed25519Prefix: [UInt8] = [0x30, 0x2E, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]
        if der.count == 48, Array(der.prefix(16)) == ed25519Prefix {
            do { return .ed25519(try Curve25519.Signing.PrivateKey(rawRepresentation: der.suffix(32))) } catch {
                throw KilnError(.invalidConfiguration, "not a usable Ed25519 key: \(error)", location: field)
            }
        }
        do { return .rsa(try _RSA.Signing.PrivateKey(pemRepresentation: pem)) } catch {
            throw KilnError(.invalidConfiguration, "not an RSA (2048 bits or more) or Ed25519 private key: \(error)", location: field)
        }
    }

    static func pemBody(_ pem: String, label: String) -> [UInt8]? {
        guard let start = pem.range(of: "-----BEGIN \(label)-----"), let end = pem.range(of: "-----END \(label)-----", range: start.upperBound..<pem.endIndex) else { return nil }
        let base64 = pem[start.upperBound..<end.lowerBound].filter { !$0.isWhitespace }
        return Data(base64Encoded: String(base64)).map { [UInt8]($0) }
    }

    func sign(_ data: [UInt8]) throws -> [UInt8] {
        switch self {
        case .rsa(let key):
            return [UInt8](try key.signature(for: SHA256.hash(data: data), padding: .insecurePKCS1v1_5).rawRepresentation)
        case .ed25519(let key):
            // RFC 8463: Ed25519 over the SHA-256 hash of the data.
            return [UInt8](try key.signature(for: Data(SHA256.hash(data: data))))
        }
    }
}

/// Signs messages with DKIM (RFC 6376), relaxed/relaxed.
///
/// `h=` lists the headers present among `signedHeaders`, then names the ones in
/// `oversignedHeaders` once more: a signer must claim an absent instance so that a copy
/// added in transit (a second From, Subject or List-Unsubscribe) breaks the signature.
///
/// RSA signs through the faster of OpenSSL and swift-crypto on this machine
/// (`RSASigningLibrary`); the body hash of a body seen moments ago is reused, so that a
/// message sent to many recipients is canonicalized and hashed once.
public struct DKIMSigner: Sendable {
    public var domain: String
    public var selector: String
    public let key: DKIMKey
    /// The RSA signer (nil for Ed25519).
    let rsa: RSADigestSigner?
    let bodyHashes = BodyHashCache()

    /// The library that makes this signer's RSA signatures (nil for Ed25519).
    public var rsaLibrary: RSASigningLibrary? { rsa?.library }

    /// The headers signed when present (RFC 8058 requires List-Unsubscribe and
    /// List-Unsubscribe-Post).
    public static let signedHeaders = [
        "From", "To", "Cc", "Reply-To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type",
        "Content-Transfer-Encoding", "Feedback-ID", "List-Unsubscribe", "List-Unsubscribe-Post", "List-ID",
    ]
    /// Headers signed once more than they occur.
    public static let oversignedHeaders = ["From", "Subject", "List-Unsubscribe", "List-Unsubscribe-Post"]

    /// - Parameters:
    ///   - domain: the signing domain; `d=` carries its A-label form (RFC 8616 §4:
    ///     `bücher.de` signs as `d=xn--bcher-kva.de`, the name its key is published under).
    ///   - rsaLibrary: the library for RSA signatures; nil times a few signatures with
    ///     each and keeps the faster.
    public init(domain: String, selector: String, key: DKIMKey, rsaLibrary: RSASigningLibrary? = nil) {
        self.domain = IDNA.asciiDomainOrSame(domain)
        self.selector = selector
        self.key = key
        if case .rsa(let rsaKey) = key {
            rsa = RSADigestSigner(key: rsaKey, library: rsaLibrary)
        } else {
            rsa = nil
        }
    }

    /// The `DKIM-Signature:` header field (folded, ending in CRLF) for `message`, to be
    /// put in front of it.
    public func signatureField(for message: [UInt8], time: Timestamp) throws(KilnError) -> [UInt8] {
        let (headers, body) = DKIMCanonical.split(message)
        let bodyHash = bodyHashes.hash(of: body)
        var names: [String] = []
        var counts: [String: Int] = [:]
        for field in headers { counts[field.lowercasedName, default: 0] += 1 }
        for name in Self.signedHeaders {
            for _ in 0..<(counts[name.lowercased()] ?? 0) { names.append(name) }
        }
        names += Self.oversignedHeaders
        // The field is folded before signing, so that what is signed is what is sent:
        // breaks only between tags and before the colons of h= (FWS is allowed there).
        var atoms = ["v=1;", "a=\(key.algorithm);", "c=relaxed/relaxed;", "d=\(domain);", "s=\(selector);",
                     "t=\(time.nanoseconds / 1_000_000_000);"]
        var hAtoms = names.enumerated().map { $0.offset == 0 ? "h=\($0.element)" : ":\($0.element)" }
        hAtoms[hAtoms.count - 1] += ";"
        atoms.append(contentsOf: hAtoms)
        atoms.append("bh=\(bodyHash);")
        var head = "DKIM-Signature:"
        var column = head.count
        for atom in atoms {
            let separator = atom.hasPrefix(":") ? "" : " "
            if column + separator.count + atom.count > 76 {
                head += "\r\n\t" + atom
                column = 1 + atom.count
            } else {
                head += separator + atom
                column += separator.count + atom.count
            }
        }
        if column + 4 > 76 {
            head += "\r\n\tb="
            column = 3
        } else {
            head += " b="
            column += 3
        }
        let value = String(head.dropFirst("DKIM-Signature:".count))
        var signed = DKIMCanonical.relaxedHeaders(headers, names: names)
        signed += DKIMCanonical.relaxedHeader(name: "DKIM-Signature", value: value, crlf: false)
        let signature: [UInt8]
        do { signature = try rsa.map { try $0.sign(digest: SHA256.hash(data: signed)) } ?? key.sign(signed) } catch {
            throw KilnError(.renderingFailure, "DKIM signing failed: \(error)", location: "dkim \(selector)._domainkey.\(domain)")
        }
        // The signature's base64, folded inside (whitespace in b= is ignored).
        var b64 = Substring(Data(signature).base64EncodedString())
        var out = head
        let first = max(8, 76 - column)
        out += b64.prefix(first)
        b64 = b64.dropFirst(first)
        while !b64.isEmpty {
            out += "\r\n\t" + b64.prefix(72)
            b64 = b64.dropFirst(72)
        }
        return Array((out + "\r\n").utf8)
    }

    /// `message` with this signature in front.
    public func sign(_ message: [UInt8], time: Timestamp) throws(KilnError) -> [UInt8] {
        try signatureField(for: message, time: time) + message
    }
}

/// DKIM relaxed canonicalization (RFC 6376 §3.4.2 and §3.4.4).
enum DKIMCanonical {
    struct Field {
        /// The whole field as it appears, with folding, without the final CRLF.
        var raw: ArraySlice<UInt8>
        var lowercasedName: String
    }

    /// The header fields and the body of a message.
    static func split(_ message: [UInt8]) -> ([Field], ArraySlice<UInt8>) {
        var fields: [Field] = []
        var i = 0
        var fieldStart = 0
        let n = message.count
        while i < n {
            // At the start of a line.
            if message[i] == 13, i + 1 < n, message[i + 1] == 10 {  // empty line: end of header
                if i > fieldStart { fields.append(field(message[fieldStart..<i - 2])) }
                return (fields, message[(i + 2)...])
            }
            // Find this line's end.
            var end = i
            while end < n, !(message[end] == 13 && end + 1 < n && message[end + 1] == 10) { end += 1 }
            let next = end + 2
            if i > fieldStart, message[i] != 32, message[i] != 9 {
                fields.append(field(message[fieldStart..<i - 2]))
                fieldStart = i
            }
            i = next
        }
        if fieldStart < min(i, n) { fields.append(field(message[fieldStart..<min(i, n)])) }
        return (fields, [])
    }

    static func field(_ raw: ArraySlice<UInt8>) -> Field {
        let colon = raw.firstIndex(of: UInt8(ascii: ":")) ?? raw.endIndex
        var name = raw[raw.startIndex..<colon]
        while let first = name.first, first == 32 || first == 9 { name = name.dropFirst() }
        while let last = name.last, last == 32 || last == 9 { name = name.dropLast() }
        // Field names are printable ASCII (RFC 5322 §2.2): ASCII lowercasing is enough.
        let lowercased = name.map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 }
        return Field(raw: raw, lowercasedName: String(decoding: lowercased, as: UTF8.self))
    }

    /// The canonical form of the fields named in `names`, each taken from the bottom up;
    /// a name with no instance left contributes nothing.
    static func relaxedHeaders(_ fields: [Field], names: [String]) -> [UInt8] {
        var used = Set<Int>()
        var out: [UInt8] = []
        for name in names {
            let lower = name.lowercased()
            guard let index = fields.indices.reversed().first(where: { !used.contains($0) && fields[$0].lowercasedName == lower }) else { continue }
            used.insert(index)
            let raw = fields[index].raw
            let colon = raw.firstIndex(of: UInt8(ascii: ":"))!
            out += relaxedHeader(name: lower, value: String(decoding: raw[(colon + 1)...], as: UTF8.self), crlf: true)
        }
        return out
    }

    /// `name:value` with the name lowercased, folding removed, whitespace runs collapsed
    /// and trimmed.
    static func relaxedHeader(name: String, value: String, crlf: Bool) -> [UInt8] {
        var out = Array(name.lowercased().utf8)
        out.append(UInt8(ascii: ":"))
        var pendingSpace = false
        var started = false
        for byte in value.utf8 {
            switch byte {
            case 13, 10: continue
            case 32, 9: pendingSpace = started
            default:
                if pendingSpace { out.append(32) }
                pendingSpace = false
                started = true
                out.append(byte)
            }
        }
        if crlf { out += [13, 10] }
        return out
    }

    /// The relaxed body: trailing whitespace removed from each line, whitespace runs made
    /// one space, empty lines at the end removed, a final CRLF (an empty body stays empty).
    ///
    /// Most of a body comes out as it went in, so 8 bytes are looked at together: when
    /// they hold no CR, LF or tab and no space before white space or a line break, they
    /// are copied as they are; anything else goes byte by byte.
    static func relaxedBody(_ body: ArraySlice<UInt8>) -> [UInt8] {
        body.withUnsafeBufferPointer { input in
            // Each output byte stands for at least one input byte, but for the final CRLF.
            [UInt8](unsafeUninitializedCapacity: input.count + 2) { out, written in
                guard let base = input.baseAddress, let target = out.baseAddress else { written = 0; return }
                let raw = UnsafeRawPointer(base)
                var o = 0
                var pendingSpace = false
                var emptyLines = 0
                var lineHasContent = false
                var i = 0
                var bytewiseUntil = 0
                let n = input.count
                while i < n {
                    if i >= bytewiseUntil, !pendingSpace, emptyLines == 0, i + 9 <= n {
                        let v = ByteWords.load(raw, i)
                        let next = ByteWords.load(raw, i + 1)
                        let breaksOrTabs = ByteWords.bytes(v, equalTo: 13) | ByteWords.bytes(v, equalTo: 10) | ByteWords.bytes(v, equalTo: 9)
                        let whiteNext = ByteWords.bytes(next, equalTo: 32) | ByteWords.bytes(next, equalTo: 9)
                            | ByteWords.bytes(next, equalTo: 13) | ByteWords.bytes(next, equalTo: 10)
                        if breaksOrTabs | (ByteWords.bytes(v, equalTo: 32) & whiteNext) == 0 {
                            // At least 4 of the 8 are not spaces: the line has content.
                            (target + o).update(from: base + i, count: 8)
                            o += 8
                            i += 8
                            lineHasContent = true
                            continue
                        }
                        bytewiseUntil = i + 8
                    }
                    let byte = input[i]
                    if byte == 13, i + 1 < n, input[i + 1] == 10 {
                        if lineHasContent {
                            out[o] = 13; out[o + 1] = 10; o += 2
                        } else {
                            emptyLines += 1
                        }
                        pendingSpace = false
                        lineHasContent = false
                        i += 2
                        continue
                    }
                    if byte == 32 || byte == 9 {
                        pendingSpace = true
                    } else {
                        if !lineHasContent {
                            while emptyLines > 0 { out[o] = 13; out[o + 1] = 10; o += 2; emptyLines -= 1 }
                        }
                        if pendingSpace { out[o] = 32; o += 1 }
                        pendingSpace = false
                        lineHasContent = true
                        out[o] = byte
                        o += 1
                    }
                    i += 1
                }
                if lineHasContent { out[o] = 13; out[o + 1] = 10; o += 2 }
                written = o
            }
        }
    }
}
