import COpenSSL
import Crypto
import CryptoExtras
import Foundation

/// The library that makes DKIM rsa-sha256 signatures. RSASSA-PKCS1-v1_5 is deterministic:
/// both give the same bytes for the same key and data, and differ only in speed (OpenSSL
/// 3 uses AVX-512 IFMA where the CPU has it, about 3× BoringSSL's rate).
public enum RSASigningLibrary: String, Sendable, CaseIterable {
    /// The system's libcrypto (`libssl-dev`).
    case openSSL = "openssl"
    /// BoringSSL inside swift-crypto.
    case swiftCrypto = "swift-crypto"
}

/// An RSA private key held by OpenSSL's libcrypto, parsed once and shared by every thread
/// that signs with it (signing with a shared `EVP_PKEY` is thread-safe).
final class OpenSSLRSAKey: @unchecked Sendable {
    private let key: OpaquePointer
    /// The signature's size in bytes (the modulus's).
    let signatureBytes: Int

    /// nil when libcrypto does not take the key.
    init?(der: [UInt8]) {
        guard let key = der.withUnsafeBufferPointer({ kiln_rsa_key_from_der($0.baseAddress, $0.count) }) else { return nil }
        self.key = key
        signatureBytes = Int(EVP_PKEY_get_size(key))
    }

    /// The PKCS#1 v1.5 signature of a SHA-256 digest; nil when libcrypto fails.
    func sign(digest: SHA256.Digest) -> [UInt8]? {
        var signature = [UInt8](repeating: 0, count: signatureBytes)
        let length = digest.withUnsafeBytes { digestBytes in
            signature.withUnsafeMutableBufferPointer { out in
                kiln_rsa_sign_sha256(key, digestBytes.bindMemory(to: UInt8.self).baseAddress, out.baseAddress, out.count)
            }
        }
        guard length > 0 else { return nil }
        signature.removeLast(signatureBytes - length)
        return signature
    }

    deinit { EVP_PKEY_free(key) }
}

/// Signs SHA-256 digests with an RSA key through the faster library on this machine,
/// chosen when the signer is made by timing a few signatures with each (a few
/// milliseconds, once per key and run).
struct RSADigestSigner: Sendable {
    let key: _RSA.Signing.PrivateKey
    let openSSL: OpenSSLRSAKey?
    let library: RSASigningLibrary

    /// - Parameter library: the library to use; nil picks the faster one.
    init(key: _RSA.Signing.PrivateKey, library: RSASigningLibrary?) {
        self.key = key
        let openSSL = OpenSSLRSAKey(der: [UInt8](key.derRepresentation))
        self.openSSL = openSSL
        if openSSL == nil {
            self.library = .swiftCrypto
        } else if let library {
            self.library = library
        } else {
            let probe = RSADigestSigner(key: key, openSSL: openSSL, library: .openSSL)
            self.library = probe.signaturesPerSecond(.openSSL) >= probe.signaturesPerSecond(.swiftCrypto) ? .openSSL : .swiftCrypto
        }
    }

    private init(key: _RSA.Signing.PrivateKey, openSSL: OpenSSLRSAKey?, library: RSASigningLibrary) {
        self.key = key
        self.openSSL = openSSL
        self.library = library
    }

    func sign(digest: SHA256.Digest) throws -> [UInt8] {
        try sign(digest: digest, with: library)
    }

    func sign(digest: SHA256.Digest, with library: RSASigningLibrary) throws -> [UInt8] {
        if library == .openSSL, let openSSL, let signature = openSSL.sign(digest: digest) { return signature }
        return [UInt8](try key.signature(for: digest, padding: .insecurePKCS1v1_5).rawRepresentation)
    }

    /// Signatures per second with `library` on one thread: the best of a few timed rounds.
    func signaturesPerSecond(_ library: RSASigningLibrary, rounds: Int = 3, perRound: Int = 4) -> Double {
        let digest = SHA256.hash(data: [UInt8]("kiln rsa probe".utf8))
        _ = try? sign(digest: digest, with: library)
        var best = Duration.seconds(1_000)
        for _ in 0..<rounds {
            let started = ContinuousClock.now
            for _ in 0..<perRound { _ = try? sign(digest: digest, with: library) }
            best = min(best, ContinuousClock.now - started)
        }
        let seconds = Double(best.components.seconds) + Double(best.components.attoseconds) / 1e18
        return seconds > 0 ? Double(perRound) / seconds : .infinity
    }
}
