import KilnCore
import Testing

@Suite struct EmailAddressTests {
    @Test(arguments: ["a@example.com", "first.last+tag@sub.example.co.uk", "\"quoted name\"@example.com", "üser@example.de", "x@[192.0.2.1]"])
    func accepts(text: String) throws {
        _ = try EmailAddress(text)
    }

    @Test(arguments: ["", "plain", "@example.com", "a@", "a@localhost", "a..b@example.com", ".a@example.com", "a@-x.com", "a b@example.com", "a@exa mple.com"])
    func refuses(text: String) {
        #expect(throws: KilnError.self) { try EmailAddress(text) }
    }

    @Test func lowerCasesTheDomainOnly() throws {
        let address = try EmailAddress("John.Doe@Example.COM")
        #expect(address.description == "John.Doe@example.com")
        #expect(try EmailAddress("a@BÜCHER.Example").domain == "xn--bcher-kva.example")
    }

    @Test func trimsWhiteSpaceIncludingUnicodeSpaces() throws {
        #expect(try EmailAddress("  a@example.com\t").description == "a@example.com")
        #expect(try EmailAddress("\u{00A0}a@example.com\u{2003}").description == "a@example.com")
        #expect(throws: KilnError.self) { try EmailAddress("\u{00A0}") }
    }

    @Test func saysWhatIsWrong() {
        func message(_ text: String) -> String {
            do { _ = try EmailAddress(text); return "" } catch { return error.message }
        }
        #expect(message("plain").contains("no '@'"))
        #expect(message("a..b@example.com").contains("local part"))
        #expect(message("a@-x.com").contains("domain"))
        #expect(message(String(repeating: "a", count: 64) + "@" + String(repeating: "b", count: 63) + "." + String(repeating: "c", count: 63)
                        + "." + String(repeating: "d", count: 63) + ".com").contains("254"))
    }
}

@Suite struct FingerprintSetTests {
    @Test func findsWhatWasAddedAndOnlyThat() {
        var set = FingerprintSet()
        var allNew = true
        for i in 0..<50_000 { allNew = set.insert("user\(i)@example.com") && allNew }
        #expect(allNew)
        #expect(set.count == 50_000)
        #expect(set.capacity >= 50_000 * 4 / 3)
        let again = set.insert("user49999@example.com")
        #expect(!again)
        #expect(set.contains("user123@example.com"))
        #expect(!set.contains("user50000@example.com"))
        #expect(set.count == 50_000)
    }

    @Test func fingerprintsAreStableAndSpread() {
        // Stable across runs (not seeded per process like Hasher), so a resume rebuilds the same set.
        #expect(FingerprintSet.fingerprint("a@example.com") == FingerprintSet.fingerprint("a@example.com"))
        #expect(FingerprintSet.fingerprint("") != FingerprintSet.fingerprint("\0"))
        #expect(FingerprintSet.fingerprint("abcdefgh") != FingerprintSet.fingerprint("abcdefgh\0"))
        var seen = Set<UInt64>()
        for i in 0..<200_000 { seen.insert(FingerprintSet.fingerprint("u\(i)@x.org")) }
        #expect(seen.count == 200_000)
    }

    @Test func sizedForTheExpectedCountItDoesNotGrow() {
        var set = FingerprintSet(expected: 10_000)
        let capacity = set.capacity
        for i in 0..<10_000 { set.insert("\(i)") }
        #expect(set.capacity == capacity)
    }
}

@Suite struct MailboxProviderTests {
    @Test(arguments: [
        ("gmail.com", "gmail"), ("googlemail.com", "gmail"), ("hotmail.co.uk", "microsoft"), ("outlook.fr", "microsoft"),
        ("live.com", "microsoft"), ("msn.com", "microsoft"), ("yahoo.co.jp", "yahoo"), ("yahoo.de", "yahoo"),
        ("ymail.com", "yahoo"), ("aol.com", "yahoo"), ("icloud.com", "apple"), ("me.com", "apple"), ("mac.com", "apple"),
        ("comcast.net", "comcast"), ("web.de", "gmx"), ("gmx.at", "gmx"), ("orange.fr", "orange"), ("mail.ru", "mailru"),
        ("yandex.ru", "yandex"), ("qq.com", "qq"), ("att.net", "att"), ("t-online.de", "tonline"), ("libero.it", "libero"),
    ])
    func builtInTable(domain: String, provider: String) {
        #expect(MailboxProvider.classify(domain: domain)?.id == provider)
    }

    @Test(arguments: ["example.com", "live.nation.com", "yahoo.example.org", "notgmail.com"])
    func unknownDomains(domain: String) {
        #expect(MailboxProvider.classify(domain: domain) == nil)
    }

    @Test func classifiesByMX() {
        #expect(MailboxProvider.classify(mxHosts: ["aspmx.l.google.com."]) == .gmail)
        #expect(MailboxProvider.classify(mxHosts: ["example-com.mail.protection.outlook.com"]) == .microsoft)
        #expect(MailboxProvider.classify(mxHosts: ["mta5.am0.yahoodns.net"]) == .yahoo)
        #expect(MailboxProvider.classify(mxHosts: ["mx1.hosting.example.co.uk"]).id == "mx:example.co.uk")
        #expect(MailboxProvider.classify(mxHosts: []) == .other)
    }
}
