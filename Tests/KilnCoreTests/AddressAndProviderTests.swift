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
