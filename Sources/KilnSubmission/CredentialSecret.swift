import Crypto
import CryptoExtras
import Foundation
import KilnCore

/// Credential secrets: made at random, stored only as a salted PBKDF2-HMAC-SHA256 hash
/// (`pbkdf2-sha256$ROUNDS$SALT$HASH`, base64), checked in constant time.
public enum CredentialSecret {
    /// OWASP's figure for PBKDF2-HMAC-SHA256 (Password Storage Cheat Sheet, 2023).
    public static let defaultRounds = 600_000

    /// A new secret: `kiln_` and 32 random bytes in base64url without padding (48
    /// characters). The prefix lets secret scanners find a leaked one, and keeps a secret
    /// from starting with `-` (which command lines would take for an option).
    public static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return "kiln_" + Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// The stored form of `secret`, with a fresh 16-byte salt.
    /// - Parameter rounds: below 210,000 only for tests (the hash says its rounds, so a
    ///   stored hash keeps verifying when the default changes).
    public static func hash(_ secret: String, rounds: Int = defaultRounds) throws(KilnError) -> String {
        var generator = SystemRandomNumberGenerator()
        let salt = (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let derived = try derive(secret, salt: salt, rounds: rounds)
        return "pbkdf2-sha256$\(rounds)$\(Data(salt).base64EncodedString())$\(Data(derived).base64EncodedString())"
    }

    /// Whether `secret` is the one `stored` was made from (false for a malformed hash).
    public static func verify(_ secret: String, against stored: String) -> Bool {
        let parts = stored.split(separator: "$", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "pbkdf2-sha256", let rounds = Int(parts[1]), rounds > 0, rounds <= 10_000_000,
              let salt = Data(base64Encoded: String(parts[2])), let expected = Data(base64Encoded: String(parts[3])), expected.count == 32,
              let derived = try? derive(secret, salt: [UInt8](salt), rounds: rounds) else { return false }
        return constantTimeEqual(derived, [UInt8](expected))
    }

    static func derive(_ secret: String, salt: [UInt8], rounds: Int) throws(KilnError) -> [UInt8] {
        do {
            let key = try KDF.Insecure.PBKDF2.deriveKey(from: Array(secret.utf8), salt: salt, using: .sha256, outputByteCount: 32,
                                                        unsafeUncheckedRounds: rounds)
            return key.withUnsafeBytes { Array($0) }
        } catch {
            throw KilnError(.invalidInput, "cannot derive the secret's hash", underlying: error)
        }
    }

    /// Compares without stopping at the first difference.
    public static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for i in a.indices { difference |= a[i] ^ b[i] }
        return difference == 0
    }
}
