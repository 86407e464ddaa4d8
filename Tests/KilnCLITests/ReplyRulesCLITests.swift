import Foundation
import Testing

/// `kiln reply classify` and `kiln feedback classify` keep their JSON keys and say the
/// reason and the rule; `--config` applies a configuration's reply rules first.
@Suite struct ReplyRulesCLITests {
    @Test func replyClassifySaysTheReasonAndTheRule() async throws {
        let result = try await kiln(["reply", "classify", "--json", "450-4.2.1 The user you are trying to contact is receiving mail too quickly."])
        #expect(result.status == 0, "\(result.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(Set(json.keys) == ["code", "enhancedStatus", "class", "scope", "reason", "rule"])
        #expect(json["class"] as? String == "temporary")
        #expect(json["scope"] as? String == "recipient")
        #expect(json["reason"] as? String == "recipientrate")
        #expect(json["rule"] as? String == "gmail.recipient-rate")
        #expect(json["enhancedStatus"] as? String == "4.2.1")
    }

    /// One reply as an argument and the same on standard input print the same line; an
    /// unknown provider is an error naming the ones Kiln knows.
    @Test func anArgumentAndStandardInputPrintAlikeAndAnUnknownProviderIsRefused() async throws {
        let reply = "421 4.3.2 Service not available"
        let argument = try await kiln(["reply", "classify", reply])
        let piped = try await kiln(["reply", "classify", "--stdin"], stdin: reply + "\n")
        #expect(argument.status == 0 && piped.status == 0, "\(argument.stderr) \(piped.stderr)")
        #expect(argument.stdout == piped.stdout)
        #expect(argument.stdout.hasPrefix("throttle\tip\t"), "\(argument.stdout)")
        let unknown = try await kiln(["reply", "classify", "--provider", "foobar", reply])
        #expect(unknown.status != 0)
        #expect(unknown.stderr.contains("foobar") && unknown.stderr.contains("gmail"), "\(unknown.stderr)")
    }

    /// A pattern with nested quantifiers passes `config check` with a warning naming it.
    @Test func configCheckWarnsOfNestedQuantifiers() async throws {
        let workspace = try Workspace(route: "smtp://127.0.0.1:1") { json in
            json["replyRules"] = [["match": "TSS04", "action": "throttle"], ["match": "(a+)+$", "action": "bounce"]]
        }
        defer { workspace.remove() }
        let result = try await kiln(["config", "check", "--config", workspace.config])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("replyRules[1].match: nested quantifiers"), "\(result.stderr)")
        #expect(!result.stderr.contains("replyRules[0]"))
    }

    @Test func operatorRulesFromTheConfigurationComeFirst() async throws {
        let workspace = try Workspace(route: "smtp://127.0.0.1:1") { json in
            json["replyRules"] = [["provider": "yahoo", "match": "TSS04", "action": "suspend", "forMinutes": 20]]
        }
        defer { workspace.remove() }
        let reply = "421 4.7.0 [TSS04] Messages from 192.0.2.10 temporarily deferred due to unexpected volume or user complaints"
        let ruled = try await kiln(["reply", "classify", "--json", "--config", workspace.config, "--provider", "yahoo", reply])
        #expect(ruled.status == 0, "\(ruled.stderr)")
        #expect(ruled.stdout.contains("\"rule\":\"replyRules[0]\""), "\(ruled.stdout)")
        #expect(ruled.stdout.contains("\"reason\":\"operator\""))
        let builtIn = try await kiln(["reply", "classify", "--json", reply])
        #expect(builtIn.stdout.contains("\"rule\":\"yahoo.tss\""), "\(builtIn.stdout)")
    }

    @Test func aBadRegularExpressionIsAnErrorNamingItsPath() async throws {
        let workspace = try Workspace(route: "smtp://127.0.0.1:1") { json in
            json["replyRules"] = [["match": "ok", "action": "throttle"], ["match": "(unclosed", "action": "bounce"]]
        }
        defer { workspace.remove() }
        let result = try await kiln(["reply", "classify", "--config", workspace.config, "550 5.1.1 user unknown"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("replyRules[1].match"), "\(result.stderr)")
        let check = try await kiln(["config", "check", "--config", workspace.config])
        #expect(check.stderr.contains("replyRules[1].match"), "\(check.stderr)")
    }

    @Test func feedbackClassifySaysTheRuleOfEachRecipient() async throws {
        let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Corpora/bounces/lhost-postfix-01.eml").path
        let result = try await kiln(["feedback", "classify", "--json", file])
        #expect(result.status == 0, "\(result.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        for key in ["type", "feedbackType", "reason", "rule", "recipients", "originalMessageID", "originalReturnPath", "originalFeedbackID"] {
            #expect(json.keys.contains(key), "\(key)")
        }
        let recipient = try #require((json["recipients"] as? [[String: Any]])?.first)
        for key in ["address", "status", "diagnostic", "permanent", "reason", "replyCode", "action", "rule"] {
            #expect(recipient.keys.contains(key), "\(key)")
        }
        #expect((recipient["rule"] as? String)?.isEmpty == false)
    }
}
