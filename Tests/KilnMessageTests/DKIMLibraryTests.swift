import Crypto
import CryptoExtras
import Foundation
import KilnCore
import KilnMessage
import KilnTesting
import Testing

/// The two RSA libraries and the body-hash cache: what they sign must be what the plain
/// path signs, and verify independently.
@Suite struct DKIMLibraryTests {
    let time = Timestamp(nanoseconds: 1_790_000_000_000_000_000)

    func message(body: String) -> [UInt8] {
        Array("From: news@example.com\r\nTo: ada@gmail.com\r\nSubject: News\r\nDate: Tue, 24 Nov 2026 08:33:20 +0000\r\nMessage-ID: <a@example.com>\r\n\r\n\(body)".utf8)
    }

    @Test func openSSLAndSwiftCryptoSignTheSameBytes() throws {
        let key = try DKIMKey.parse(pem: TestKeys.rsaPEM, field: "test")
        let viaOpenSSL = DKIMSigner(domain: "example.com", selector: "rsa1", key: key, rsaLibrary: .openSSL)
        let viaSwiftCrypto = DKIMSigner(domain: "example.com", selector: "rsa1", key: key, rsaLibrary: .swiftCrypto)
        #expect(viaOpenSSL.rsaLibrary == .openSSL)
        #expect(viaSwiftCrypto.rsaLibrary == .swiftCrypto)
        let message = message(body: "Hello Ada,\r\n\r\nthe news.\r\n")
        let a = try viaOpenSSL.sign(message, time: time)
        let b = try viaSwiftCrypto.sign(message, time: time)
        // RSASSA-PKCS1-v1_5 is deterministic: one key, one input, one signature.
        #expect(a == b)
        guard let results = IndependentChecks.verifyDKIM(a, records: TestKeys.records([("rsa1", key)])) else {
            Issue.record("dkimpy is not installed (pip install dkimpy pynacl): the independent check did not run")
            return
        }
        #expect(results == [true])
    }

    @Test func theDefaultSignerPicksALibraryAndVerifies() throws {
        let key = try DKIMKey.parse(pem: TestKeys.rsaPEM, field: "test")
        let signer = DKIMSigner(domain: "example.com", selector: "rsa1", key: key)
        #expect(signer.rsaLibrary != nil)
        #expect(DKIMSigner(domain: "example.com", selector: "e", key: .ed25519(TestKeys.ed25519)).rsaLibrary == nil)
        let signed = try signer.sign(message(body: "Hi\r\n"), time: time)
        if let results = IndependentChecks.verifyDKIM(signed, records: TestKeys.records([("rsa1", key)])) {
            #expect(results == [true])
        }
    }

    /// A body seen before reuses its hash; a different body of the same length must not.
    @Test func aRepeatedBodyIsHashedOnceAndADifferentOneAfresh() throws {
        let key = DKIMKey.ed25519(TestKeys.ed25519)
        let signer = DKIMSigner(domain: "example.com", selector: "ed1", key: key)
        let records = TestKeys.records([("ed1", key)])
        func bodyHash(_ field: [UInt8]) -> String {
            // Tags are separated by a space or a fold (CRLF TAB).
            let text = String(decoding: field, as: UTF8.self).replacingOccurrences(of: "\r\n\t", with: " ")
            guard let tag = text.split(separator: " ").first(where: { $0.hasPrefix("bh=") }) else { return "" }
            return String(tag.dropFirst(3).prefix { $0 != ";" })
        }
        let first = message(body: "Hello Ada,  the news.\r\n")
        let same = message(body: "Hello Ada,  the news.\r\n")
        let other = message(body: "Hello Bob,  the news.\r\n")
        let h1 = bodyHash(try signer.signatureField(for: first, time: time))
        let h2 = bodyHash(try signer.signatureField(for: same, time: time))
        let h3 = bodyHash(try signer.signatureField(for: other, time: time))
        #expect(!h1.isEmpty && h1 == h2)
        #expect(h1 != h3)
        #expect(h1 == Data(SHA256.hash(data: Array("Hello Ada, the news.\r\n".utf8))).base64EncodedString())
        #expect(h3 == Data(SHA256.hash(data: Array("Hello Bob, the news.\r\n".utf8))).base64EncodedString())
        // More distinct bodies than the cache keeps, then the first again: still right.
        for i in 0..<6 { _ = try signer.signatureField(for: message(body: "Body \(i)\r\n"), time: time) }
        let again = try signer.sign(first, time: time)
        #expect(bodyHash(again) == h1)
        if let results = IndependentChecks.verifyDKIM(try signer.sign(other, time: time), records: records) {
            #expect(results == [true])
        }
        if let results = IndependentChecks.verifyDKIM(again, records: records) {
            #expect(results == [true])
        }
    }
}
