import Foundation
import KilnConfiguration
import KilnCore
import Testing

@Suite struct IDNConfigurationTests {
    static let json = """
        {
          "store": {"path": "kiln.sqlite"},
          "senderId": "Test",
          "identities": [{"domain": "Bücher.de", "returnPathDomain": "bounce.bücher.de", "allowedFromAddresses": ["news@bücher.de"]}],
          "pools": [{"name": "p", "ips": ["127.0.0.2"]}],
          "delivery": {"mode": "routes", "routes": {"*": "smtp://127.0.0.1:2525"}, "heloName": "mta.bücher.de"},
          "configurationSets": [{"name": "bulk", "pool": "p",
            "unsubscribe": {"url": "https://bücher.de/u", "mailto": "unsubscribe@bücher.de", "secretEnv": "X"}}]
        }
        """

    @Test func loadingPutsEveryDomainInALabelForm() throws {
        let configuration = try Configuration.load(json: Data(Self.json.utf8))
        let identity = try #require(configuration.identities.first)
        #expect(identity.domain == "xn--bcher-kva.de")
        #expect(identity.returnPathDomain == "bounce.xn--bcher-kva.de")
        #expect(identity.allowedFromAddresses == ["news@xn--bcher-kva.de"])
        #expect(configuration.delivery.heloName == "mta.xn--bcher-kva.de")
        #expect(configuration.configurationSets[0].unsubscribe?.mailto == "unsubscribe@xn--bcher-kva.de")
        #expect(configuration.configurationSets[0].unsubscribe?.url == "https://xn--bcher-kva.de/u")
        // A From address in either spelling finds the identity.
        #expect(try configuration.identity(for: EmailAddress("news@bücher.de"))?.domain == "xn--bcher-kva.de")
    }

    /// A configuration built in code (not loaded) finds its identity in A-label form too.
    @Test func anIdentityBuiltInCodeIsMatchedByItsALabel() throws {
        var configuration = try Configuration.load(json: Data(Self.json.utf8))
        configuration.identities = [.init(domain: "bücher.de")]
        #expect(configuration.validate().isEmpty, "\(configuration.validate())")
        let identity = try #require(configuration.identity(for: EmailAddress("a@mail.bücher.de")))
        #expect(identity.domain == "xn--bcher-kva.de")
    }

    @Test func anIdentityDomainWithoutAnALabelFormIsRefusedNamingTheField() {
        let long = String(repeating: "a", count: 58) + "ü"
        let json = Self.json.replacingOccurrences(of: "\"Bücher.de\"", with: "\"\(long).de\"")
            .replacingOccurrences(of: "\"allowedFromAddresses\": [\"news@bücher.de\"]", with: "\"owner\": \"default\"")
        let error = #expect(throws: KilnError.self) { try Configuration.load(json: Data(json.utf8)) }
        #expect(error?.message.contains("identities[0].domain: '\(long).de' is not a domain name: the label") == true, "\(String(describing: error))")
        #expect(error?.message.contains("over 63") == true, "\(String(describing: error))")
    }
}
