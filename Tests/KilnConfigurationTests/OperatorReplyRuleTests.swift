import Foundation
import KilnConfiguration
import KilnCore
import Testing

@Suite struct OperatorReplyRuleTests {
    static func configuration(_ rules: String) throws -> Configuration {
        let json = """
        {"store": {"path": "/tmp/kiln.sqlite"}, "senderId": "kiln", "identities": [{"domain": "example.com"}],
         "pools": [{"name": "main", "ips": ["127.0.0.1"]}], "delivery": {"mode": "mx", "heloName": "mail.example.com"},
         "configurationSets": [{"name": "default", "pool": "main"}], "replyRules": \(rules)}
        """
        return try Configuration.load(json: Data(json.utf8), source: "test.json")
    }

    @Test func operatorRulesComeBeforeTheTable() throws {
        let configuration = try Self.configuration("""
            [{"provider": "yahoo", "match": "TSS04", "action": "suspend", "forMinutes": 30},
             {"match": "5\\\\.7\\\\.515", "action": "pauseConfigurationSet"},
             {"match": "user unknown", "action": "bounce"}]
            """)
        let classifier = configuration.replyClassifier
        let yahoo = try #require(SMTPReply(parsing: ProviderReplies.yahooThrottle))
        let suspended = classifier.classify(yahoo, provider: .yahoo)
        #expect(suspended.rule == "replyRules[0]")
        #expect(suspended.replyClass == .throttle && suspended.scope == .ip)
        #expect(suspended.suspension == .seconds(1800))
        // The provider filter: from Gmail the built-in table decides.
        #expect(classifier.classify(yahoo, provider: .gmail).rule != "replyRules[0]")
        let auth = try #require(SMTPReply(parsing: "550 5.7.515 Access denied, sending domain example.com does not meet the required authentication level."))
        let paused = classifier.classify(auth, provider: .microsoft)
        #expect(paused.pausesConfigurationSet && paused.rule == "replyRules[1]")
        let unknown = try #require(SMTPReply(parsing: "550 5.1.1 User Unknown"))
        #expect(classifier.classify(unknown, provider: nil).replyClass == .permanentMessage)
        #expect(ReplyClassifier.builtIn.classify(unknown, provider: nil).replyClass == .permanentUser)
    }

    @Test func everyBadRuleIsNamedByItsPath() throws {
        do {
            _ = try Self.configuration("""
                [{"match": "([unclosed", "action": "throttle"},
                 {"match": "x", "action": "explode"},
                 {"match": "x", "action": "suspend"},
                 {"match": "x", "action": "bounce", "forMinutes": 5},
                 {"provider": "nosuchprovider", "match": "x", "action": "temporary"},
                 {"match": "x", "action": "suspend", "forMinutes": 0}]
                """)
            Issue.record("a bad rule was accepted")
        } catch {
            let text = "\(error)"
            for path in ["replyRules[0].match", "replyRules[1].action", "replyRules[2].forMinutes", "replyRules[3].forMinutes",
                         "replyRules[4].provider", "replyRules[5].forMinutes"] {
                #expect(text.contains(path), "\(path) missing from: \(text)")
            }
        }
    }
}
