import KilnCore
import KilnSubmission
import Testing

/// The front door's pure parts: secrets, the login throttle, tenants' quotas, reading a
/// submitted message.
@Suite struct FrontDoorPartsTests {
    @Test func aSecretVerifiesAgainstItsSaltedHashOnly() throws {
        let secret = CredentialSecret.generate()
        #expect(secret.count == 48 && secret.hasPrefix("kiln_"))
        let stored = try CredentialSecret.hash(secret, rounds: 1_000)
        #expect(stored.hasPrefix("pbkdf2-sha256$1000$") && !stored.contains(secret))
        #expect(CredentialSecret.verify(secret, against: stored))
        #expect(!CredentialSecret.verify(secret + "x", against: stored))
        #expect(!CredentialSecret.verify(secret, against: "pbkdf2-sha256$1000$!!$!!"))
        // The same secret hashed twice gives two hashes (fresh salts).
        #expect(try CredentialSecret.hash(secret, rounds: 1_000) != stored)
    }

    @Test func failedLoginsAreSlowedThenLockedOutAndASuccessClearsThem() {
        var throttle = LoginThrottle()
        let start = Timestamp(nanoseconds: 1_000_000_000_000)
        #expect(throttle.verdict(peer: "a", now: start) == .proceed(delay: .zero))
        for _ in 0..<3 { throttle.failed(peer: "a", now: start) }
        #expect(throttle.verdict(peer: "a", now: start) == .proceed(delay: .seconds(1)))
        for _ in 0..<3 { throttle.failed(peer: "a", now: start) }
        #expect(throttle.verdict(peer: "a", now: start) == .proceed(delay: .seconds(8)))
        #expect(throttle.verdict(peer: "b", now: start) == .proceed(delay: .zero))
        for _ in 0..<3 { throttle.failed(peer: "a", now: start) }
        let locked = throttle.failed(peer: "a", now: start)
        #expect(locked)
        #expect(throttle.verdict(peer: "a", now: start + .seconds(60)) == .lockedOut(seconds: 840))
        #expect(throttle.verdict(peer: "a", now: start + .seconds(901)) == .proceed(delay: .zero))
        throttle.failed(peer: "c", now: start)
        throttle.succeeded(peer: "c")
        #expect(throttle.verdict(peer: "c", now: start) == .proceed(delay: .zero))
    }

    @Test func aLargeCallUnderASmallPerSecondQuotaPassesWhenTheBucketIsFullAndTheNextWaits() {
        var quota = TenantQuota(tenants: [.init(name: "acme", quota: .init(maxPerSecond: 50))])
        let start = Timestamp(nanoseconds: 1_000_000_000_000)
        #expect(quota.take(1_000, tenant: "acme", now: start) == nil)
        // 950 in debt at 50/s: 20 s until one second's worth is back.
        #expect(quota.take(1, tenant: "acme", now: start + .seconds(1)) == 19)
        #expect(quota.take(1, tenant: "acme", now: start + .seconds(20)) == nil)
        #expect(quota.take(1_000_000, tenant: "other", now: start) == nil)
    }

    @Test func aSubmittedMessageGivesItsFromAndKilnsInstructionsAndLosesThem() throws {
        let raw = Array("From: \"Ann, Sales\" <ann@example.com>\r\nX-Kiln-Configuration-Set: bulk\r\nx-kiln-transactional: yes\r\nSubject: s\r\n\tfolded\r\n\r\nBody\r\n".utf8)
        let message = try SubmittedMessage(raw: raw, uniqueID: "u1", date: Timestamp(nanoseconds: 1_796_601_600_000_000_000))
        #expect(message.from.description == "ann@example.com")
        #expect(message.configurationSet == "bulk" && message.transactional)
        let text = String(decoding: message.data, as: UTF8.self)
        #expect(!text.lowercased().contains("x-kiln"))
        #expect(text.hasPrefix("Message-ID: <u1@example.com>\r\nDate: "))
        #expect(text.contains("Subject: s\r\n\tfolded\r\n\r\nBody\r\n"))
        #expect(SubmittedMessage.rfc5322Date(Timestamp(nanoseconds: 1_796_601_600_000_000_000)) == "Mon, 07 Dec 2026 00:00:00 +0000")
        #expect(throws: SubmissionRefusal.self) { try SubmittedMessage(raw: Array("Subject: x\r\n\r\nbody".utf8), uniqueID: "u", date: .init(nanoseconds: 0)) }
        #expect(throws: SubmissionRefusal.self) { try SubmittedMessage(raw: Array("From: a@x.com, b@x.com\r\n\r\nbody".utf8), uniqueID: "u", date: .init(nanoseconds: 0)) }
        #expect(throws: SubmissionRefusal.self) { try SubmittedMessage(raw: Array("From: a@x.com\r\nno blank line".utf8), uniqueID: "u", date: .init(nanoseconds: 0)) }
    }
}
