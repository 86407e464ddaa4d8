import Foundation
import KilnConfiguration
import KilnCore
import Testing

@Suite struct ConfigurationTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func decodesTheExampleConfiguration() throws {
        let data = try Data(contentsOf: Self.root.appendingPathComponent("config.example.json"))
        let configuration = try Configuration.load(json: data)
        #expect(configuration.senderId == "ExampleCo")
        #expect(configuration.pools.first?.ips == ["127.0.0.2", "127.0.0.3"])
        #expect(configuration.pools.first?.spillover == .whileWarming)
        #expect(configuration.route(for: .gmail) == "smtp://127.0.0.1:2601")
        #expect(configuration.route(for: .yahoo) == "smtp://127.0.0.1:2609")
        #expect(configuration.configurationSet(named: nil)?.pool == "marketing")
        #expect(configuration.validate().isEmpty)
    }

    static let minimal = """
        {"store": {"path": "k.sqlite"}, "senderId": "S",
         "identities": [{"domain": "example.com"}],
         "pools": [{"name": "p", "ips": ["127.0.0.2"]}],
         "delivery": {"mode": "routes", "routes": {"*": "smtp://127.0.0.1:2525"}, "heloName": "mta.example.com"},
         "configurationSets": [{"name": "c", "pool": "p"}]}
        """

    static var minimalConfiguration: Configuration {
        (try? Configuration.load(json: Data(minimal.utf8))) ?? Configuration(
            store: .init(path: ""), senderId: "", identities: [], pools: [], delivery: .init(mode: .mx, heloName: ""), configurationSets: [])
    }

    func problems(_ json: String) -> String {
        do {
            _ = try Configuration.load(json: Data(json.utf8))
            return ""
        } catch {
            return error.description
        }
    }

    @Test func minimalConfigurationIsValid() {
        #expect(problems(Self.minimal) == "")
    }

    @Test func everyValidationProblemNamesItsPath() {
        let json = Self.minimal
            .replacingOccurrences(of: "\"127.0.0.2\"", with: "\"127.0.0.2\", \"300.1.1.1\"")
            .replacingOccurrences(of: "\"pool\": \"p\"", with: "\"pool\": \"nope\"")
            .replacingOccurrences(of: "smtp://127.0.0.1:2525", with: "http://x")
        let text = problems(json)
        #expect(text.contains("pools[0].ips[1]: '300.1.1.1' is not an IPv4 or IPv6 address"))
        #expect(text.contains("configurationSets[0].pool: no pool named 'nope'"))
        #expect(text.contains("delivery.routes.*:"))
        #expect(text.contains("3 problem(s)"))
    }

    @Test func unknownKeysAreReportedWithTheirPath() {
        let json = Self.minimal.replacingOccurrences(of: "\"heloName\"", with: "\"heloNmae\": \"x\", \"heloName\"")
        #expect(problems(json).contains("delivery.heloNmae: unknown key"))
    }

    /// A typo gets a "did you mean": an unknown key next to one the type knows (set or
    /// not), and a required key that is missing next to a near one.
    @Test func aTypoGetsADidYouMean() {
        let typo = Self.minimal.replacingOccurrences(of: "\"heloName\"", with: "\"maxInFligth\": 5, \"heloName\"")
        #expect(problems(typo).contains("delivery.maxInFligth: unknown key (did you mean 'maxInFlight'?)"), "\(problems(typo))")
        let inList = Self.minimal.replacingOccurrences(of: "\"name\": \"p\",", with: "\"name\": \"p\", \"spilover\": \"never\",")
        #expect(problems(inList).contains("pools[0].spilover: unknown key (did you mean 'spillover'?)"), "\(problems(inList))")
        let cased = Self.minimal.replacingOccurrences(of: "\"senderId\"", with: "\"senderID\"")
        #expect(problems(cased).contains("senderId: required key is missing (the file has 'senderID': did you mean 'senderId'?)"), "\(problems(cased))")
        let far = Self.minimal.replacingOccurrences(of: "\"heloName\"", with: "\"colour\": 5, \"heloName\"")
        #expect(problems(far).contains("delivery.colour: unknown key\n") || problems(far).hasSuffix("delivery.colour: unknown key"), "\(problems(far))")
    }

    /// A domain that mixes Latin with Cyrillic or Greek letters in one label is warned of,
    /// with the Latin name it imitates; a single-script domain (IDN included) is not.
    @Test func aMixedScriptIdentityDomainIsWarnedOf() throws {
        func warnings(_ domain: String) throws -> [ConfigurationProblem] {
            try Configuration.load(json: Data(Self.minimal.replacingOccurrences(of: "\"domain\": \"example.com\"", with: "\"domain\": \"\(domain)\"").utf8))
                .lookAlikeWarnings()
        }
        let lookAlike = try warnings("ex\u{0430}mple.com")
        #expect(lookAlike.count == 1)
        #expect(lookAlike.first?.description.contains("Cyrillic and Latin") == true, "\(lookAlike)")
        #expect(lookAlike.first?.description.contains("'example.com'") == true, "\(lookAlike)")
        #expect(try warnings("example.com").isEmpty)
        #expect(try warnings("bücher.de").isEmpty)
        #expect(try warnings("пример.рф").isEmpty)
    }

    @Test func typeErrorsNameThePath() {
        let json = Self.minimal.replacingOccurrences(of: "[\"127.0.0.2\"]", with: "[\"127.0.0.2\", 5]")
        #expect(problems(json).contains("pools[0].ips[1]: expected a string"))
    }

    @Test func missingKeysNameThePath() {
        let json = Self.minimal.replacingOccurrences(of: "\"senderId\": \"S\",", with: "")
        #expect(problems(json).contains("senderId: required key is missing"))
    }

    @Test func syntaxErrorsAreReported() {
        #expect(problems("{\"store\": ").contains("problem(s)"))
    }

    @Test func spilloverNeedsASharedPool() {
        let json = Self.minimal.replacingOccurrences(of: "\"ips\": [\"127.0.0.2\"]", with: "\"ips\": [\"127.0.0.2\"], \"spillover\": \"always\"")
        #expect(problems(json).contains("pools[0].spillover: 'always' needs a sharedPool"))
    }

    @Test func providerOverridesApply() throws {
        let json = Self.minimal.replacingOccurrences(of: "\"configurationSets\"", with: "\"providers\": {\"gmail\": {\"coldHourly\": 7}, \"other\": {\"maxConnections\": 3}}, \"configurationSets\"")
        let configuration = try Configuration.load(json: Data(json.utf8))
        let gmail = ProviderProfile.resolve(.gmail, overrides: configuration.providers)
        #expect(gmail.coldHourly == 7)
        #expect(gmail.messagesPerConnection == 50)
        #expect(ProviderProfile.resolve("comcast", overrides: configuration.providers).maxConnections == 3)
        #expect(ProviderProfile.resolve(.yahoo, overrides: configuration.providers).maxConnections == 5)
    }

    @Test(arguments: [
        ("smtp://127.0.0.1:2525", "127.0.0.1", 2525, false), ("smtps://relay.example.com", "relay.example.com", 465, true),
        ("smtp://[::1]:26", "::1", 26, false), ("smtp://mx.example.com", "mx.example.com", 25, false),
    ])
    func smtpURLs(text: String, host: String, port: Int, tls: Bool) throws {
        let url = try #require(SMTPURL(text))
        #expect(url.host == host && url.port == port && url.implicitTLS == tls)
    }

    @Test(arguments: ["http://x", "smtp://", "smtp://host:0", "smtp://host:99999", "smtp://u@host", "smtp://host/path"])
    func badSMTPURLs(text: String) {
        #expect(SMTPURL(text) == nil)
    }
}
