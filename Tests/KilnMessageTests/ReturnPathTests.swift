import Foundation
import KilnCore
import KilnMessage
import Testing

/// The signed envelope sender (VERP) that traces feedback to its message.
@Suite struct ReturnPathTests {
    static let secret = Array("return-path-secret-of-16+".utf8)

    @Test func aSignedReturnPathTracesBackToItsMessage() {
        let address = ReturnPath.address(for: MessageID(42), domain: "bounce.example.com", secret: Self.secret)
        #expect(address.wholeMatch(of: /b\+42-[a-z2-7]{10}@bounce\.example\.com/) != nil)
        #expect(ReturnPath.trace([address], secret: Self.secret) == .verified(MessageID(42)))
        #expect(ReturnPath.trace(["Final-Recipient: x", "Bounces <\(address.uppercased())>"], secret: Self.secret) == .verified(MessageID(42)))
        // Another key does not verify it.
        #expect(ReturnPath.trace([address], secret: Array("another-secret-of-16-bytes".utf8)) == .unverified(claimed: MessageID(42)))
        #expect(ReturnPath.address(for: MessageID(42), domain: "b.example", secret: nil) == "b+42@b.example")
    }

    @Test(arguments: [
        ("b+42@bounce.example.com", ReturnPath.Trace.unverified(claimed: MessageID(42))),
        ("b+43-abcdefghij@bounce.example.com", .unverified(claimed: MessageID(43))),
        ("<b+7-@x.example>", .unverified(claimed: MessageID(7))),
        ("bob+42@example.com", .none),
        ("b+@example.com", .none),
        ("b+12 @example.com", .none),
        ("", .none),
    ])
    func whatIsNotSignedIsNotVerified(value: String, expected: ReturnPath.Trace) {
        #expect(ReturnPath.trace([value], secret: Self.secret) == expected)
    }

    @Test func aVerifiedCandidateWinsOverAnUnverifiedOne() {
        let signed = ReturnPath.address(for: MessageID(9), domain: "b.example", secret: Self.secret)
        #expect(ReturnPath.trace(["b+8@b.example", signed], secret: Self.secret) == .verified(MessageID(9)))
        #expect(ReturnPath.trace([signed], secret: nil) == .unverified(claimed: MessageID(9)))
    }
}

/// The one-click unsubscribe token is opaque: the address is not in it, in any encoding;
/// what was sealed comes back; a forged or altered token does not; a token of the earlier
/// signed-only form still works, so links already sent keep working.
@Suite struct OpaqueUnsubscribeTokenTests {
    let secret = Array("s3cret-of-16-bytes-or-more".utf8)
    let token = UnsubscribeToken(recipient: "user0@outlook.com", list: "newsletter", campaign: "s1")

    @Test func theAddressAppearsNowhereInTheToken() {
        let made = token.make(secret: secret)
        #expect(!made.lowercased().contains("outlook"))
        #expect(!made.contains("user0"))
        for encoded in [Data("user0@outlook.com".utf8).base64EncodedString(), Data("user0@outlook.com\nnewsletter".utf8).base64EncodedString()] {
            #expect(!made.contains(encoded.prefix(12)), "\(made)")
        }
        #expect(UnsubscribeToken.verify(made, secret: secret) == token)
        // Two tokens of one recipient differ (a fresh nonce each).
        #expect(token.make(secret: secret) != made)
    }

    @Test func aForgedOrAlteredTokenDoesNotVerify() {
        let made = token.make(secret: secret)
        #expect(UnsubscribeToken.verify(made, secret: Array("another-secret-16-bytes".utf8)) == nil)
        var altered = Array(made)
        altered[altered.count / 2] = altered[altered.count / 2] == "A" ? "B" : "A"
        #expect(UnsubscribeToken.verify(String(altered), secret: secret) == nil)
        #expect(UnsubscribeToken.verify("2", secret: secret) == nil)
        #expect(UnsubscribeToken.verify("", secret: secret) == nil)
    }

    @Test func aTokenOfTheEarlierFormStillVerifies() {
        let old = token.makeSignedOnly(secret: secret)
        #expect(old.contains("."))
        #expect(UnsubscribeToken.verify(old, secret: secret) == token)
        #expect(UnsubscribeToken.verify(old, secret: Array("another-secret-16-bytes".utf8)) == nil)
    }
}
