import Crypto
import CryptoExtras
import Foundation
import KilnCore
import KilnMessage
import KilnTesting
import Testing

/// Keys made once for the suite.
enum TestKeys {
    static let rsa = try! _RSA.Signing.PrivateKey(keySize: .bits2048)
    static let ed25519 = Curve25519.Signing.PrivateKey()

    static var rsaPEM: String { rsa.pemRepresentation }
    /// PKCS#8 PEM of the Ed25519 key.
    static var ed25519PEM: String {
        let der: [UInt8] = [0x30, 0x2E, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20] + ed25519.rawRepresentation
        return "-----BEGIN PRIVATE KEY-----\n\(Data(der).base64EncodedString())\n-----END PRIVATE KEY-----\n"
    }

    static func records(_ keys: [(selector: String, key: DKIMKey)]) -> [String: String] {
        Dictionary(uniqueKeysWithValues: keys.map { selector, key in
            ("\(selector)._domainkey.example.com", "v=DKIM1; k=\(key.algorithm.hasPrefix("rsa") ? "rsa" : "ed25519"); p=\(key.publicKeyRecord)")
        })
    }
}

@Suite struct DKIMTests {
    let time = Timestamp(nanoseconds: 1_790_000_000_000_000_000)

    func message(subject: String = "Grüße from Kiln", html: Bool = true) throws -> [UInt8] {
        let draft = MessageDraft(from: try EmailAddress("news@example.com"), fromName: "Example News", to: [try EmailAddress("ada@gmail.com")],
                                 subject: subject, text: "Hello Ada,\n\nthe news.  With  spaces   \n\n\n", html: html ? "<p>Hello <b>Ada</b></p>" : nil)
        let body = try MessageBuilder.compose(draft, date: time, messageID: "abc.123@example.com", boundarySeed: "abc")
        let headers = BulkHeaders(feedbackID: try FeedbackID(campaign: "nov", category: "news", stream: "newsletter", senderId: "ExampleCo"),
                                  unsubscribeURL: "https://example.com/u", unsubscribeMailto: "unsubscribe@example.com", secret: Array("s3cret".utf8))
        return try headers.lines(for: UnsubscribeToken(recipient: "ada@gmail.com", list: "newsletter", campaign: "nov")) + body
    }

    func signed(_ message: [UInt8]) throws -> ([UInt8], [String: String]) {
        let rsa = DKIMSigner(domain: "example.com", selector: "rsa1", key: try DKIMKey.parse(pem: TestKeys.rsaPEM, field: "test"))
        let ed = DKIMSigner(domain: "example.com", selector: "ed1", key: try DKIMKey.parse(pem: TestKeys.ed25519PEM, field: "test"))
        let signed = try ed.sign(try rsa.sign(message, time: time), time: time)
        return (signed, TestKeys.records([("rsa1", rsa.key), ("ed1", ed.key)]))
    }

    @Test func signaturesVerifyWithAnIndependentVerifier() throws {
        let (signed, records) = try signed(message())
        let text = String(decoding: signed, as: UTF8.self)
        #expect(text.contains("a=rsa-sha256") && text.contains("a=ed25519-sha256"))
        guard let results = IndependentChecks.verifyDKIM(signed, records: records) else {
            Issue.record("dkimpy is not installed (pip install dkimpy pynacl): the independent check did not run")
            return
        }
        #expect(results == [true, true])
        if results != [true, true], let dump = ProcessInfo.processInfo.environment["KILN_DKIM_DUMP"] {
            try Data(signed).write(to: URL(fileURLWithPath: dump))
            try JSONSerialization.data(withJSONObject: records).write(to: URL(fileURLWithPath: dump + ".json"))
        }
    }

    @Test(arguments: ["subject", "addedFrom", "addedListUnsubscribe", "body", "listUnsubscribePost"])
    func tamperedCopiesFail(tampering: String) throws {
        let (signed, records) = try signed(message())
        var text = String(decoding: signed, as: UTF8.self)
        switch tampering {
        case "subject": text = text.replacingOccurrences(of: "Subject: ", with: "Subject: Re: ")
        case "addedFrom": text = "From: ceo@example.com\r\n" + text
        case "addedListUnsubscribe": text = "List-Unsubscribe: <https://evil.example/u>\r\n" + text
        case "listUnsubscribePost": text = text.replacingOccurrences(of: "List-Unsubscribe=One-Click", with: "List-Unsubscribe=Nope")
        default: text = text.replacingOccurrences(of: "the news.", with: "the fake news.")
        }
        guard let results = IndependentChecks.verifyDKIM(Array(text.utf8), records: records) else {
            Issue.record("dkimpy is not installed (pip install dkimpy pynacl): the independent check did not run")
            return
        }
        #expect(results == [false, false])
    }

    @Test func theHeaderListCoversTheBulkHeadersAndOversigns() throws {
        let (signed, _) = try signed(message())
        let text = String(decoding: signed, as: UTF8.self).replacingOccurrences(of: "\r\n\t", with: "")
        let h = try #require(text.split(separator: "\r\n").first { $0.hasPrefix("DKIM-Signature:") && $0.contains("rsa-sha256") }?
            .split(separator: ";").first { $0.trimmingCharacters(in: .whitespaces).hasPrefix("h=") })
        let names = h.trimmingCharacters(in: .whitespaces).dropFirst(2).split(separator: ":").map(String.init)
        for name in ["From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type", "Feedback-ID", "List-Unsubscribe", "List-Unsubscribe-Post"] {
            #expect(names.contains(name), "h= lacks \(name)")
        }
        for name in DKIMSigner.oversignedHeaders {
            #expect(names.filter { $0 == name }.count == 2, "\(name) is not oversigned")
        }
    }

    @Test func relaxedBodyCanonicalizationFollowsRFC6376() {
        // RFC 6376 §3.4.6 example body.
        let body = Array(" C \r\nD \t E\r\n\r\n\r\n".utf8)
        let signer = DKIMSigner(domain: "example.com", selector: "s", key: .ed25519(TestKeys.ed25519))
        let message = Array("A: X\r\nB : Y\t\r\n\tZ  \r\n\r\n".utf8) + body
        let field = try! signer.signatureField(for: message, time: time)
        let expected = Data(SHA256.hash(data: Array(" C\r\nD E\r\n".utf8))).base64EncodedString()
        #expect(String(decoding: field, as: UTF8.self).replacingOccurrences(of: "\r\n\t", with: "").contains("bh=\(expected)"))
    }

    @Test func aKeyFileOthersCanReadIsRefused() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-key-\(UUID().uuidString).pem").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try TestKeys.ed25519PEM.write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o644)
        #expect(throws: KilnError.self) { try DKIMKey.load(path: path, field: "identities[0].dkim[0].privateKeyFile") }
        #expect(throws: Never.self) { try DKIMKey.load(path: path, allowInsecure: true, field: "x") }
        chmod(path, 0o600)
        let key = try DKIMKey.load(path: path, expectedAlgorithm: "ed25519-sha256", field: "x")
        #expect(key.algorithm == "ed25519-sha256")
        #expect(throws: KilnError.self) { try DKIMKey.load(path: path, expectedAlgorithm: "rsa-sha256", field: "x") }
    }

    @Test func pkcs1AndPkcs8RSAKeysBothLoad() throws {
        let pkcs8 = TestKeys.rsa.pemRepresentation
        #expect(try DKIMKey.parse(pem: pkcs8, field: "x").algorithm == "rsa-sha256")
        let pkcs1 = try #require(pemPKCS1(TestKeys.rsa))
        #expect(try DKIMKey.parse(pem: pkcs1, field: "x").algorithm == "rsa-sha256")
        #expect(throws: KilnError.self) { try DKIMKey.parse(pem: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", field: "x") }
    }

    /// The key as `openssl genrsa` writes it (PKCS#1), via openssl when available.
    func pemPKCS1(_ key: _RSA.Signing.PrivateKey) -> String? {
        guard let output = try? ChildProcess.runBlocking("/usr/bin/env", ["openssl", "rsa", "-traditional"], stdin: Array(key.pemRepresentation.utf8)) else {
            return key.pemRepresentation
        }
        let text = output.stdout
        return text.contains("BEGIN RSA PRIVATE KEY") ? text : key.pemRepresentation
    }
}

@Suite struct BulkHeaderTests {
    @Test func feedbackIDHasFourDistinctFieldsWithoutColons() throws {
        #expect(try FeedbackID(campaign: "nov", category: "news", stream: "newsletter", senderId: "ExampleCo").description == "nov:news:newsletter:ExampleCo")
        #expect(throws: KilnError.self) { try FeedbackID(campaign: "a:b", category: "news", stream: "s", senderId: "X") }
        #expect(throws: KilnError.self) { try FeedbackID(campaign: "same", category: "same", stream: "s", senderId: "X") }
        #expect(throws: KilnError.self) { try FeedbackID(campaign: "", category: "news", stream: "s", senderId: "X") }
        #expect(throws: KilnError.self) { try FeedbackID(campaign: "{{user}}", category: "news", stream: "s", senderId: "X") }
        do {
            _ = try FeedbackID(campaign: "nov\r\nBcc: x@y.z", category: "news", stream: "s", senderId: "X")
            Issue.record("a line break was accepted")
        } catch {
            #expect(error.code == .headerInjection)
            #expect(error.location == "Feedback-ID campaign")
        }
    }

    @Test func unsubscribeTokensVerifyAndForgeriesDoNot() {
        let secret = Array("s3cret".utf8)
        let token = UnsubscribeToken(recipient: "ada@gmail.com", list: "newsletter", campaign: "nov").make(secret: secret)
        #expect(UnsubscribeToken.verify(token, secret: secret) == UnsubscribeToken(recipient: "ada@gmail.com", list: "newsletter", campaign: "nov"))
        #expect(UnsubscribeToken.verify(token, secret: Array("other".utf8)) == nil)
        let forged = UnsubscribeToken(recipient: "bob@gmail.com", list: "newsletter", campaign: "nov").make(secret: Array("guess".utf8))
        #expect(UnsubscribeToken.verify(forged, secret: secret) == nil)
        #expect(UnsubscribeToken.verify("garbage", secret: secret) == nil)
        #expect(!token.contains("+") && !token.contains("/") && !token.contains("="))
    }

    @Test func theOneClickPairIsAdded() throws {
        let headers = BulkHeaders(feedbackID: nil, unsubscribeURL: "https://example.com/u", unsubscribeMailto: "u@example.com", secret: [1, 2, 3])
        let text = String(decoding: try headers.lines(for: UnsubscribeToken(recipient: "a@b.c", list: "l", campaign: "c")), as: UTF8.self)
            .replacingOccurrences(of: "\r\n ", with: " ")
        #expect(text.contains("List-Unsubscribe: <https://example.com/u?t="))
        #expect(text.contains("<mailto:u@example.com?subject=unsubscribe-"))
        #expect(text.hasSuffix("List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"))
    }
}

@Suite struct MIMETests {
    @Test(arguments: [(true, true), (true, false), (false, true)])
    func composedMessagesParseWithoutDefects(text: Bool, html: Bool) throws {
        let long = String(repeating: "Ünïcödé and a very long line without breaks ", count: 60)
        let draft = MessageDraft(from: try EmailAddress("news@example.com"), fromName: "Ëxample News, Inc.", to: [try EmailAddress("ada@gmail.com")],
                                 subject: "Grüße — \(long.prefix(120))", text: text ? ".leading dot\n\(long)\nend \n" : nil,
                                 html: html ? "<p>\(long)</p>" : nil)
        let message = try MessageBuilder.compose(draft, date: Timestamp(nanoseconds: 1_790_000_000_000_000_000), messageID: "x.y@example.com", boundarySeed: "b1")
        for line in String(decoding: message, as: UTF8.self).components(separatedBy: "\r\n") {
            #expect(line.utf8.count <= 998)
            #expect(!line.contains("\n") && !line.contains("\r"))
        }
        guard let defects = IndependentChecks.mimeDefects(message) else {
            Issue.record("python3 is not available: the independent MIME check did not run")
            return
        }
        #expect(defects.isEmpty, "\(defects)")
    }
}

@Suite struct AttachmentTests {
    @Test func attachmentsGoInMultipartMixedAndParseCleanly() throws {
        let pdf = (0..<3000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let draft = MessageDraft(from: try EmailAddress("news@example.com"), to: [try EmailAddress("ada@gmail.com")], subject: "Invoice",
                                 text: "See attached.\n", html: "<p>See attached.</p>",
                                 attachments: [.init(filename: "invoice.pdf", contentType: "application/pdf", data: pdf),
                                               .init(filename: "Rechnung für März.txt", contentType: "text/plain", data: Array("ü".utf8))])
        let message = try MessageBuilder.compose(draft, date: Timestamp(nanoseconds: 1_790_000_000_000_000_000), messageID: "a.b@example.com", boundarySeed: "s")
        let text = String(decoding: message, as: UTF8.self)
        #expect(text.contains("Content-Type: multipart/mixed;"))
        #expect(text.contains("multipart/alternative"))
        #expect(text.contains("filename=\"invoice.pdf\""))
        #expect(text.contains("filename*=utf-8''Rechnung%20f%C3%BCr%20M%C3%A4rz.txt"))
        #expect(text.components(separatedBy: "\r\n").allSatisfy { $0.utf8.count <= 998 })
        if let defects = IndependentChecks.mimeDefects(message) {
            #expect(defects.isEmpty, "\(defects)")
        } else {
            Issue.record("python3 is not available: the independent MIME check did not run")
        }
    }

    @Test func aLineBreakInAFileNameIsRefused() throws {
        let draft = MessageDraft(from: try EmailAddress("news@example.com"), to: [try EmailAddress("ada@gmail.com")], subject: "x", text: "y",
                                 attachments: [.init(filename: "a\r\nBcc: x@y.z", contentType: "text/plain", data: [])])
        #expect(throws: KilnError.self) { try MessageBuilder.compose(draft, date: Timestamp(nanoseconds: 0), messageID: "a@b", boundarySeed: "s") }
    }
}
