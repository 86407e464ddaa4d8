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
