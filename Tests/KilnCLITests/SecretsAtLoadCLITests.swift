import Foundation
import Testing

/// Secrets, keys and source addresses are checked when the configuration loads, for
/// every command that will need them: an invalid configuration (exit 2, naming the
/// JSON path, never the secret), not a failure at send time (exit 1).
@Suite struct SecretsAtLoadCLITests {
    struct Case: CustomStringConvertible, Sendable {
        var name: String
        var command: [String]
        var path: String
        /// A file to write in the workspace first: (name, contents, mode, size to extend to).
        var file: (String, String, Int, Int)?
        var json: @Sendable (inout [String: Any]) -> Void
        var description: String { name }
    }

    static let shortSecret = "short-secret"

    static func unsubscribe(_ fields: [String: String]) -> @Sendable (inout [String: Any]) -> Void {
        { json in
            json["configurationSets"] = [["name": "bulk", "pool": "p", "unsubscribe": ["url": "https://example.com/u"].merging(fields) { $1 }]]
        }
    }

    static func dkim(_ file: String) -> @Sendable (inout [String: Any]) -> Void {
        { json in
            json["identities"] = [["domain": "example.com", "dkim": [["selector": "s1", "algorithm": "rsa-sha256", "privateKeyFile": file]]]]
        }
    }

    static let run = ["run", "--until-idle"]
    static let unsetVariable = "KILN_TEST_SURELY_UNSET_\(UUID().uuidString.prefix(8))"

    static let cases: [Case] = [
        Case(name: "a missing secret variable for run", command: run, path: "configurationSets[0].unsubscribe.secretEnv", json: unsubscribe(["secretEnv": unsetVariable])),
        Case(name: "a missing secret variable for send --wait",
             command: ["send", "--from", "news@example.com", "--to", "a@gmail.com", "--subject", "s", "--text", "t", "--wait"],
             path: "configurationSets[0].unsubscribe.secretEnv", json: unsubscribe(["secretEnv": unsetVariable])),
        Case(name: "a missing secret variable for serve", command: ["serve", "--listen", "127.0.0.1:1"], path: "configurationSets[0].unsubscribe.secretEnv",
             json: unsubscribe(["secretEnv": unsetVariable])),
        Case(name: "serve without any unsubscribe secret", command: ["serve", "--listen", "127.0.0.1:1"], path: "configurationSets", json: { _ in }),
        Case(name: "a whitespace-only secret file", command: run, path: "configurationSets[0].unsubscribe.secretFile", file: ("secret", " \n\t \n", 0o600, 0),
             json: unsubscribe(["secretFile": "secret"])),
        Case(name: "a secret shorter than 16 bytes", command: run, path: "configurationSets[0].unsubscribe.secretFile", file: ("secret", shortSecret + "\n", 0o600, 0),
             json: unsubscribe(["secretFile": "secret"])),
        Case(name: "a missing DKIM key", command: run, path: "identities[0].dkim[0].privateKeyFile", json: dkim("missing.pem")),
        Case(name: "a group-readable DKIM key", command: run, path: "identities[0].dkim[0].privateKeyFile",
             file: ("key.pem", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", 0o640, 0), json: dkim("key.pem")),
        Case(name: "a 200 MB DKIM key", command: run, path: "identities[0].dkim[0].privateKeyFile",
             file: ("key.pem", "-----BEGIN PRIVATE KEY-----\n", 0o600, 200 << 20), json: dkim("key.pem")),
        Case(name: "a missing return-path secret, for config check", command: ["config", "check"], path: "feedback.returnPathSecretEnv", json: { json in
            json["feedback"] = ["returnPathSecretEnv": unsetVariable]
        }),
        Case(name: "a 5-byte return-path secret, for config check", command: ["config", "check"], path: "feedback.returnPathSecretFile",
             file: ("rp-secret", "12345\n", 0o600, 0), json: { json in json["feedback"] = ["returnPathSecretFile": "rp-secret"] }),
        Case(name: "a missing return-path secret, for run", command: run, path: "feedback.returnPathSecretEnv", json: { json in
            json["feedback"] = ["returnPathSecretEnv": unsetVariable]
        }),
        Case(name: "a missing relay password", command: run, path: "sharedPool.passwordEnv", json: { json in
            json["sharedPool"] = ["url": "smtp://127.0.0.1:2600", "usernameEnv": "HOME", "passwordEnv": unsetVariable]
        }),
        Case(name: "a pool IP this machine does not have, for run", command: run, path: "pools[0].ips[1]", json: { json in
            json["pools"] = [["name": "p", "ips": ["127.0.0.2", "192.0.2.77"], "scaling": "fixed"]]
        }),
        Case(name: "a pool IP this machine does not have, for config check", command: ["config", "check"], path: "pools[0].ips[0]", json: { json in
            json["pools"] = [["name": "p", "ips": ["198.51.100.9"], "scaling": "fixed"]]
        }),
        Case(name: "a missing DKIM key, for config check", command: ["config", "check"], path: "identities[0].dkim[0].privateKeyFile", json: dkim("nope.pem")),
    ]

    @Test(arguments: cases)
    func isAnInvalidConfigurationAtLoad(test: Case) async throws {
        let workspace = try Workspace(route: "smtp://127.0.0.1:1", extra: test.json)
        defer { workspace.remove() }
        if let (name, contents, mode, size) = test.file {
            let path = workspace.directory + "/" + name
            #expect(FileManager.default.createFile(atPath: path, contents: Data(contents.utf8), attributes: [.posixPermissions: mode]))
            if size > 0 { #expect(truncate(path, off_t(size)) == 0) }
        }
        let result = try await kiln(test.command + ["--config", workspace.config])
        #expect(!result.signaled)
        #expect(result.status == 2, "\(result.stderr)")
        #expect(result.stderr.contains(test.path + ":"), "\(result.stderr)")
        #expect(!result.stderr.contains(Self.shortSecret))
    }

    @Test func aGoodConfigurationChecksOK() async throws {
        let workspace = try Workspace(route: "smtp://127.0.0.1:1")
        defer { workspace.remove() }
        let result = try await kiln(["config", "check", "--config", workspace.config])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "ok")
        #expect(!FileManager.default.fileExists(atPath: workspace.directory + "/kiln.sqlite"))
    }
}
