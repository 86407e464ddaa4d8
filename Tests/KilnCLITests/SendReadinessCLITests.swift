import Foundation
import KilnTesting
import Testing

/// `kiln send --wait` never exits with a failure after queuing: what a send needs is
/// checked before anything is stored.
@Suite struct SendReadinessCLITests {
    @Test(arguments: ["unsubscribe", "returnPath"])
    func aMissingSecretFailsTheSendBeforeAnythingIsQueued(secret: String) async throws {
        let server = try await LoopbackSMTPServer.start()
        let workspace = try Workspace(route: server.url) { json in
            if secret == "unsubscribe" {
                json["configurationSets"] = [["name": "bulk", "pool": "p", "unsubscribe": ["url": "https://example.com/u", "secretEnv": "KILN_TEST_UNSET_SECRET"]]]
            } else {
                json["feedback"] = ["returnPathSecretEnv": "KILN_TEST_UNSET_SECRET"]
            }
        }
        defer { workspace.remove() }
        let sent = try await kiln(["send", "--config", workspace.config, "--from", "news@example.com", "--to", "a@gmail.com", "--subject", "Hi", "--text", "Hello", "--wait"])
        #expect(sent.status != 0)
        #expect(sent.stderr.contains("KILN_TEST_UNSET_SECRET"))
        let status = try await kiln(["status", "--config", workspace.config, "--json"])
        let json = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any]
        #expect((json?["byState"] as? [String: Int] ?? [:]).isEmpty)
        #expect(server.messages.isEmpty)
    }
}
