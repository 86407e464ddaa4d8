import Foundation
import KilnConfiguration
import KilnCore
import Testing

/// The `feedback` section: defaults, and every problem named by its path.
@Suite struct FeedbackConfigurationTests {
    static let base = """
        {"store": {"path": "k.sqlite"}, "senderId": "S",
         "identities": [{"domain": "example.com", "returnPathDomain": "bounce.example.com"}],
         "pools": [{"name": "p", "ips": ["127.0.0.2"]}],
         "delivery": {"mode": "routes", "routes": {"*": "smtp://127.0.0.1:2525"}, "heloName": "mta.example.com"},
         "configurationSets": [{"name": "c", "pool": "p"}]
        """

    @Test func theDefaultsAreSafe() throws {
        let configuration = try Configuration.load(json: Data((Self.base + "}").utf8))
        #expect(configuration.feedbackSettings.suppressesUnmatched == false)
        #expect(configuration.feedbackSettings.reportLimit == 10 * 1024 * 1024)
        #expect(configuration.feedbackSettings.headerLimit == 16 * 1024)
        #expect(configuration.feedbackSettings.signsReturnPath == false)
    }

    @Test(arguments: [
        (#"{"returnPathSecretEnv": "A", "returnPathSecretFile": "f"}"#, "feedback.returnPathSecretFile"),
        (#"{"returnPathSecretEnv": ""}"#, "feedback.returnPathSecretEnv"),
        (#"{"maxReportBytes": 10}"#, "feedback.maxReportBytes"),
        (#"{"maxHeaderBytes": 100}"#, "feedback.maxHeaderBytes"),
        (#"{"suppressUnmatch": true}"#, "feedback.suppressUnmatch"),
    ])
    func everyProblemNamesItsPath(section: String, path: String) {
        do {
            _ = try Configuration.load(json: Data((Self.base + #", "feedback": "# + section + "}").utf8))
            Issue.record("accepted \(section)")
        } catch {
            #expect(error.description.contains(path))
        }
    }
}
