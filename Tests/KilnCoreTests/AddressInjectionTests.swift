import KilnCore
import Testing

/// Injection: an address must never carry a control character or invalid UTF-8 into an
/// SMTP command, a header, a log line or an error message.
@Suite struct AddressInjectionTests {
    static let smuggled = "x@[127.0.0.1]>\r\nDATA\r\nSubject: SMUGGLED\r\n\r\nbody\r\n.\r\nRSET\r\nNOOP [x]"

    /// Hostile addresses, with what the error must say.
    static let hostile: [(String, String)] = [
        (smuggled, "control character in its domain"),
        ("a\r\nb@example.com", "control character in its local part"),
        ("a\rb@example.com", "control character in its local part"),
        ("a\nb@example.com", "control character in its local part"),
        ("\"a\r\nRCPT TO:<v@example.com>\"@example.com", "control character in its local part"),
        ("a@exa\r\nmple.com", "control character in its domain"),
        ("x@[127.0.0.1\r\n]", "control character in its domain"),
        ("x@[tag:a\r\nb]", "control character in its domain"),
        ("x@[IPv6:::1\n]", "control character in its domain"),
        ("a\u{0}b@example.com", "control character in its local part"),
        ("a@example\u{0}.com", "control character in its domain"),
        ("a\tb@example.com", "control character in its local part"),
        ("\"a\tb\"@example.com", "control character in its local part"),
        ("\"a\\\tb\"@example.com", "control character in its local part"),
        ("a\u{7F}@example.com", "control character in its local part"),
        ("a\u{85}b@example.com", "control character in its local part"),
        ("\"a\u{80}\"@example.com", "control character in its local part"),
        ("a@ex\u{9B}ample.com", "control character in its domain"),
        ("a\u{FFFD}@example.com", "invalid UTF-8 in its local part"),
        ("a@b\u{FFFD}.example", "invalid UTF-8 in its domain"),
        ("x@[256.1.1.1]", "address literal"),
        ("x@[1.2.3]", "address literal"),
        ("x@[1.2.3.4.5]", "address literal"),
        ("x@[1..2.3]", "address literal"),
        ("x@[1234.1.1.1]", "address literal"),
        ("x@[1.2.3.4", "address literal"),
        ("x@[]", "address literal"),
        ("x@[:abc]", "address literal"),
        ("x@[tag:]", "address literal"),
        ("x@[tag:a]b]", "address literal"),
        ("x@[tag:a b]", "address literal"),
        ("x@[-tag:a]", "address literal"),
        ("x@[IPv6:]", "address literal"),
        ("x@[IPv6:1:2:3:4:5:6:7]", "address literal"),
        ("x@[IPv6:1:2:3:4:5:6:7:8:9]", "address literal"),
        ("x@[IPv6:1::2::3]", "address literal"),
        ("x@[IPv6:12345::1]", "address literal"),
        ("x@[IPv6:g::1]", "address literal"),
        ("x@[IPv6::::1]", "address literal"),
        ("x@[IPv6:1:2:3:4:5:6::7]", "address literal"),
        ("x@[IPv6:::ffff:256.1.1.1]", "address literal"),
        ("x@[IPv6:1:2:3:4:5::1.2.3.4]", "address literal"),
        ("x@[IPv6:1.2.3.4::1]", "address literal"),
        ("x@[IPv6:1:2:3:4:5:6:7:1.2.3.4]", "address literal"),
        ("a\"b@example.com", "local part"),
        ("\"abc\\\"@example.com", "local part"),
        ("\"ab\"c\"@example.com", "local part"),
        ("a<b>@example.com", "local part"),
        (String(repeating: "a", count: 65) + "@example.com", "longer than 64"),
        ("a@" + String(repeating: "b", count: 64) + ".com", "invalid domain"),
        (String(repeating: "a", count: 64) + "@" + [String](repeating: String(repeating: "b", count: 60), count: 4).joined(separator: ".") + ".com",
         "254 octets"),
    ]

    @Test(arguments: hostile)
    func refusesAndSaysWhyWithoutEchoingAControlCharacter(text: String, problem: String) throws {
        let error = try #require(throws: KilnError.self) { try EmailAddress(text) }
        #expect(error.code == .invalidAddress)
        #expect(error.message.contains(problem), "\(error.message)")
        #expect(!error.message.unicodeScalars.contains { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) }, "\(error.message)")
    }

    @Test func theSmuggledAddressIsEchoedEscaped() throws {
        let error = try #require(throws: KilnError.self) { try EmailAddress(Self.smuggled) }
        #expect(error.message.contains(#"'x@[127.0.0.1]>\r\nDATA\r\nSubject: SMUGGLED"#))
    }

    /// Byte sequences that are not UTF-8: an overlong '/', a surrogate, a lone 0xFF, an
    /// overlong NUL, a code point above U+10FFFF, a stray continuation byte, a truncated
    /// sequence, a 5-byte lead.
    static let invalidUTF8: [[UInt8]] = [[0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xFF], [0xC0, 0x80], [0xE0, 0x80, 0xAF],
                                         [0xF4, 0x90, 0x80, 0x80], [0x80], [0xE2, 0x82], [0xF8, 0x88, 0x80, 0x80, 0x80]]

    @Test(arguments: invalidUTF8)
    func refusesInvalidUTF8InEitherPart(bytes: [UInt8]) throws {
        let inLocal = try #require(throws: KilnError.self) { try EmailAddress(utf8: Array("a".utf8) + bytes + Array("@example.com".utf8)) }
        #expect(inLocal.message.contains("invalid UTF-8 in its local part"), "\(inLocal.message)")
        let inDomain = try #require(throws: KilnError.self) { try EmailAddress(utf8: Array("a@ex".utf8) + bytes + Array("ample.com".utf8)) }
        #expect(inDomain.message.contains("invalid UTF-8 in its domain"), "\(inDomain.message)")
        // Decoded the lossy way, the U+FFFD left behind is refused as well.
        #expect(throws: KilnError.self) { try EmailAddress(String(decoding: Array("a".utf8) + bytes + Array("@example.com".utf8), as: UTF8.self)) }
    }

    static let valid = [
        "x@[127.0.0.1]", "x@[IPv6:::1]", "x@[IPv6:2001:db8::1]", "x@[IPv6:::ffff:1.2.3.4]", "x@[IPv6:2001:db8:0:0:0:0:0:1]",
        "x@[IPv6:1:2:3:4:5:6:1.2.3.4]", "x@[IPv6:1:2:3:4::1.2.3.4]", "x@[IPv6:1:2:3::4:5:6]", "x@[IPv6:1::]", "x@[x400:c=us;a=x]",
        "\"quoted local\"@example.com", "\"a\\\"b\"@example.com", "\"a<b>\"@example.com", "\"\"@example.com", "\"ü\"@example.com",
        "用户@xn--fsqu00a.xn--4rr70v", "ü@xn--mller-kva.de", "plus+tag@example.com", "a@xn--mller-kva.de", "a.b-c@x-y.example.com",
    ]

    /// An internationalized domain is kept in its A-label form (RFC 5890); the U-label is
    /// for display.
    @Test(arguments: [("用户@例子.广告", "用户@xn--fsqu00a.xn--4rr70v"), ("ü@müller.de", "ü@xn--mller-kva.de")])
    func acceptsAnInternationalizedDomainInALabelForm(text: String, expected: String) throws {
        let address = try EmailAddress(text)
        #expect(address.description == expected)
        #expect(address.displayDescription == text)
        #expect(try EmailAddress(utf8: Array(text.utf8)) == address)
    }

    @Test(arguments: valid)
    func acceptsAndKeepsTheAddress(text: String) throws {
        let address = try EmailAddress(text)
        #expect(address.description == text)
        #expect(try EmailAddress(utf8: Array(text.utf8)) == address)
    }

    @Test func anAddressLiteralKeepsItsCaseAndANameIsLowerCased() throws {
        #expect(try EmailAddress("x@[IPv6:2001:DB8::1]").domain == "[IPv6:2001:DB8::1]")
        #expect(try EmailAddress("x@[ipv6:::1]").domain == "[ipv6:::1]")
        #expect(try EmailAddress("X@Müller.DE").description == "X@xn--mller-kva.de")
    }

    @Test func aDomainWithALineBreakIsNotADomain() {
        #expect(EmailAddress.isValidDomain("mta.example.com"))
        #expect(EmailAddress.isValidDomain("[192.0.2.1]"))
        #expect(!EmailAddress.isValidDomain("mta.example.com\r\nMAIL FROM:<x@y.z>"))
        #expect(!EmailAddress.isValidDomain("[192.0.2.1\n]"))
        #expect(!EmailAddress.isValidDomain("[192.0.2.256]"))
    }

    @Test func controlCharactersAreEscapedForDisplay() {
        #expect("a\r\nb\t\u{0}\u{1B}[2J\u{7F}\u{85}\u{2028}ü".escapingControlCharacters == #"a\r\nb\t\0\u{1B}[2J\u{7F}\u{85}\u{2028}ü"#)
        #expect("plain text".escapingControlCharacters == "plain text")
    }
}

@Suite struct CSVInvalidUTF8Tests {
    @Test func aFieldThatIsNotUTF8IsFlaggedNotSilentlyReplaced() {
        var parser = CSVParser()
        var items: [CSVParser.Item] = []
        parser.feed(Array("email,name\r\na@example.com,Ann\r\n".utf8) + [0x62, 0xC0, 0xAF] + Array("@example.com,B\u{00FC}b\r\n".utf8)) { items.append($0) }
        parser.finish { items.append($0) }
        guard items.count == 3, case .record(let good) = items[1], case .record(let bad) = items[2] else {
            Issue.record("expected three records, got \(items)")
            return
        }
        #expect(good.invalidUTF8Fields.isEmpty)
        #expect(bad.line == 3)
        #expect(bad.invalidUTF8Fields == [0])
        #expect(bad.fields[1] == "Büb")
    }
}
