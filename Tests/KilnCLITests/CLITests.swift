import Foundation
import KilnCore
import KilnTesting
import Synchronization
import Testing

/// Runs `kiln` with `arguments` and waits for it, on threads of its own (never blocking
/// Swift's cooperative pool, which the rest of the run shares).
/// - Parameter environment: added to this process's environment for the child.
func kiln(_ arguments: [String], stdin: String? = nil, directory: String? = nil, environment: [String: String] = [:]) async throws -> ChildProcess {
    try await ChildProcess.run(kilnExecutable, arguments, stdin: Array((stdin ?? "").utf8), directory: directory,
                               environment: environment.isEmpty ? nil : ChildProcess.environment(adding: environment))
}

/// A temporary directory with a configuration routing every provider to `route`.
struct Workspace {
    let directory: String
    var config: String { directory + "/kiln.json" }

    init(route: String, maxInFlight: Int = 64, extra: (inout [String: Any]) -> Void = { _ in }) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-cli-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var json: [String: Any] = [
            "store": ["path": "kiln.sqlite"],
            "senderId": "Test",
            "identities": [["domain": "example.com", "returnPathDomain": "bounce.example.com"]],
            "pools": [["name": "p", "ips": ["127.0.0.2", "127.0.0.3"], "scaling": "fixed"]],
            "providers": Dictionary(uniqueKeysWithValues: ["gmail", "microsoft", "yahoo", "apple", "other"].map {
                ($0, ["coldHourly": 1_000_000, "warmHourly": 10_000_000])
            }),
            // No start-up identity check: the tests never ask a name server beyond loopback.
            "delivery": ["mode": "routes", "routes": ["*": route], "heloName": "mta.example.com", "tls": "none",
                         "connectTimeoutSeconds": 5, "transferTimeoutSeconds": 30, "maxInFlight": maxInFlight, "identityCheckAtStart": false],
            "configurationSets": [["name": "bulk", "pool": "p"]],
            "defaultConfigurationSet": "bulk",
        ]
        extra(&json)
        try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: config))
    }

    /// The same directory with its configuration changed by `change`.
    init(reusing workspace: Workspace, change: (inout [String: Any]) -> Void) throws {
        directory = workspace.directory
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: workspace.config))) as! [String: Any]
        change(&json)
        try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: config))
    }

    func remove() { try? FileManager.default.removeItem(atPath: directory) }
}

@Suite struct CLITests {
    @Test func anInvalidConfigurationExitsWithStatusTwoNamingEveryProblem() async throws {
        let workspace = try Workspace(route: "smtp://127.0.0.1:1") { json in
            json["pools"] = [["name": "p", "ips": ["not-an-ip"]]]
            json["defaultConfigurationSet"] = "missing"
        }
        defer { workspace.remove() }
        let result = try await kiln(["status", "--config", workspace.config])
        #expect(result.status == 2)
        #expect(result.stderr.contains("pools[0].ips[0]"))
        #expect(result.stderr.contains("defaultConfigurationSet"))
    }

    @Test func aMissingArgumentExitsWithStatusTwo() async throws {
        let result = try await kiln(["send", "--config", "/nonexistent.json", "--from", "a@example.com", "--subject", "x", "--text", "y"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("--to"))
    }

    @Test func replyClassifyReadsRepliesFromStandardInput() async throws {
        let result = try await kiln(["reply", "classify", "--stdin", "--json"], stdin: "550 5.1.1 The email account that you tried to reach does not exist.\n421 4.7.28 Our system has detected an unusual rate of unsolicited mail\n")
        #expect(result.status == 0)
        let lines = result.stdout.split(separator: "\n").map { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(lines.count == 2)
        #expect(lines[0]?["class"] as? String == "permanent-user")
        #expect(lines[1]?["class"] as? String == "throttle")
    }

    @Test func sendWaitDeliversAndStatusCountsIt() async throws {
        let server = try await LoopbackSMTPServer.start()
        let workspace = try Workspace(route: server.url)
        defer { workspace.remove() }
        let sent = try await kiln(["send", "--config", workspace.config, "--from", "news@example.com", "--to", "a@gmail.com", "--to", "b@yahoo.com",
                             "--subject", "Hi", "--text", "Hello", "--wait", "--json"])
        #expect(sent.status == 0, "\(sent.stderr)")
        let records = try JSONSerialization.jsonObject(with: Data(sent.stdout.utf8)) as? [[String: Any]]
        #expect(records?.map { $0["state"] as? String } == ["delivered", "delivered"])
        #expect(server.messages.count == 2)
        let status = try await kiln(["status", "--config", workspace.config, "--json"])
        let json = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any]
        #expect((json?["byState"] as? [String: Int])?["delivered"] == 2)
        await server.shutdown()
    }

    /// `send --wait` that could not deliver is no success: exit 3 (queued, do not send
    /// again); `send` without `--wait` says that `kiln run` delivers.
    @Test func sendSaysWhatDeliversAndAWaitThatCouldNotDeliverIsNoSuccess() async throws {
        let workspace = try Workspace(route: "smtp://127.0.0.1:1")
        defer { workspace.remove() }
        let queued = try await kiln(["send", "--config", workspace.config, "--from", "news@example.com", "--to", "a@gmail.com", "--subject", "Hi", "--text", "Hello"])
        #expect(queued.status == 0, "\(queued.stderr)")
        #expect(queued.stderr.contains("kiln run --config"), "\(queued.stderr)")
        let waited = try await kiln(["send", "--config", workspace.config, "--from", "news@example.com", "--to", "b@gmail.com", "--subject", "Hi", "--text", "Hello", "--wait"])
        #expect(waited.status == 3, "\(waited.stdout) \(waited.stderr)")
        #expect(waited.stdout.contains("deferred"), "\(waited.stdout)")
        #expect(waited.stderr.contains("not delivered yet"), "\(waited.stderr)")
    }

    /// A run that ends (`--until-idle`) takes its events to the destinations before it
    /// exits: before, only a long-running `kiln run` delivered them.
    @Test func runUntilIdleDeliversItsEventsBeforeExit() async throws {
        let server = try await LoopbackSMTPServer.start()
        let workspace = try Workspace(route: server.url) { json in
            json["configurationSets"] = [["name": "bulk", "pool": "p", "eventDestinations": [["name": "log", "type": "file", "path": "events.jsonl"]]]]
        }
        defer { workspace.remove() }
        let sent = try await kiln(["send", "--config", workspace.config, "--from", "news@example.com", "--to", "a@gmail.com", "--subject", "Hi", "--text", "Hello"])
        #expect(sent.status == 0, "\(sent.stderr)")
        let run = try await kiln(["run", "--config", workspace.config, "--until-idle"])
        #expect(run.status == 0, "\(run.stderr)")
        let lines = (try? String(contentsOfFile: workspace.directory + "/events.jsonl", encoding: .utf8)) ?? ""
        #expect(lines.contains("\"delivery\""), "\(lines)")
        await server.shutdown()
    }

    /// An event file that is a FIFO is refused when the run starts, naming it: opening it
    /// for writing would block a worker for ever.
    @Test func anEventFileThatIsAFIFOIsRefusedAtStart() async throws {
        let workspace = try Workspace(route: "smtp://127.0.0.1:1") { json in
            json["configurationSets"] = [["name": "bulk", "pool": "p", "eventDestinations": [["name": "log", "type": "file", "path": "events.fifo"]]]]
        }
        defer { workspace.remove() }
        #expect(mkfifo(workspace.directory + "/events.fifo", 0o600) == 0)
        let run = try await kiln(["run", "--config", workspace.config, "--until-idle"])
        #expect(run.status == 2, "\(run.stderr)")
        #expect(run.stderr.contains("events.fifo") && run.stderr.contains("not a regular file"), "\(run.stderr)")
    }

    /// `identity keygen` writes a key (mode 600, never over another) that the
    /// configuration loads, and prints the record to publish.
    @Test(arguments: ["rsa-sha256", "ed25519-sha256"])
    func identityKeygenWritesAKeyTheConfigurationLoads(_ algorithm: String) async throws {
        let workspace = try Workspace(route: "smtp://127.0.0.1:1") { json in
            json["identities"] = [["domain": "example.com", "returnPathDomain": "bounce.example.com",
                                   "dkim": [["selector": "k1", "algorithm": algorithm, "privateKeyFile": "dkim.pem"]]]]
        }
        defer { workspace.remove() }
        let key = workspace.directory + "/dkim.pem"
        let made = try await kiln(["identity", "keygen", "--domain", "example.com", "--selector", "k1", "--algorithm", algorithm, "--out", key])
        #expect(made.status == 0, "\(made.stderr)")
        #expect(made.stdout.contains("k1._domainkey.example.com TXT \"v=DKIM1; k=\(algorithm.hasPrefix("ed") ? "ed25519" : "rsa"); p="), "\(made.stdout)")
        let mode = (try FileManager.default.attributesOfItem(atPath: key)[.posixPermissions] as? NSNumber)?.intValue
        #expect(mode == 0o600)
        #expect(try await kiln(["config", "check", "--config", workspace.config]).stdout == "ok\n")
        let again = try await kiln(["identity", "keygen", "--domain", "example.com", "--selector", "k1", "--out", key])
        #expect(again.status != 0 && again.stderr.contains("never overwritten"), "\(again.stderr)")
    }

    /// A bad argument is said in one line, without the usage text after it.
    @Test func aBadArgumentIsOneLineWithoutUsageNoise() async throws {
        let workspace = try Workspace(route: "smtp://127.0.0.1:1")
        defer { workspace.remove() }
        let result = try await kiln(["send", "--config", workspace.config, "--from", "news@example.com", "--to", "not-an-address", "--subject", "s", "--text", "t"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("--to") && !result.stderr.contains("USAGE") && !result.stderr.contains("Usage"), "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
    }

    @Test func aPausedStoreSendsNothingAcrossProcessesUntilResumed() async throws {
        let server = try await LoopbackSMTPServer.start()
        let workspace = try Workspace(route: server.url)
        defer { workspace.remove() }
        #expect(try await kiln(["pause", "--config", workspace.config]).status == 0)
        let queued = try await kiln(["send", "--config", workspace.config, "--from", "news@example.com", "--to", "a@gmail.com", "--subject", "Hi", "--text", "Hello"])
        #expect(queued.status == 0)
        #expect(try await kiln(["run", "--config", workspace.config, "--until-idle"]).status == 0)
        #expect(server.messages.isEmpty)
        let status = try await kiln(["status", "--config", workspace.config, "--json"])
        let json = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any]
        #expect(json?["paused"] as? Bool == true)
        #expect(try await kiln(["resume", "--config", workspace.config]).status == 0)
        #expect(try await kiln(["run", "--config", workspace.config, "--until-idle"]).status == 0)
        #expect(server.messages.map(\.recipients) == [["a@gmail.com"]])
        await server.shutdown()
    }

    /// The durability promise: SIGKILL in the middle of delivery loses nothing. Every
    /// recipient arrives at least once after a restart, and the only duplicates are the
    /// transfers that were in flight when the process died.
    @Test func aProcessKilledDuringDeliveryLosesNothing() async throws {
        // From the 300th message on, the receiver holds each end of DATA until the kill has
        // happened: the kill lands mid-run however fast the machine delivers.
        let released = Atomic<Bool>(false)
        let server = try await LoopbackSMTPServer.start { command in
            if case .message = command.kind, command.messagesTotal >= 300 {
                let deadline = ContinuousClock.now + .seconds(60)
                while !released.load(ordering: .relaxed) && ContinuousClock.now < deadline { usleep(1_000) }
            }
            return nil
        }
        let maxInFlight = 32
        let workspace = try Workspace(route: server.url, maxInFlight: maxInFlight)
        defer { workspace.remove() }
        let recipients = (0..<1500).map { "user\($0)@\(["gmail.com", "yahoo.com", "outlook.com", "icloud.com"][$0 % 4])" }
        for chunk in stride(from: 0, to: recipients.count, by: 500) {
            let queued = try await kiln(["send", "--config", workspace.config, "--from", "news@example.com", "--subject", "Hi", "--text", "Hello"]
                                  + recipients[chunk..<chunk + 500].flatMap { ["--to", $0] })
            #expect(queued.status == 0, "\(queued.stderr)")
        }

        let runner = try SpawnedProcess(kilnExecutable, ["run", "--config", workspace.config])
        #expect(await server.waitForMessages(300, timeout: .seconds(60)))
        kill(runner.processIdentifier, SIGKILL)
        runner.waitUntilExit()
        released.store(true, ordering: .relaxed)
        #expect(runner.terminationReason == .uncaughtSignal)
        let beforeRestart = server.messages.count
        #expect(beforeRestart < recipients.count, "the process finished before it was killed")

        let finish = try await kiln(["run", "--config", workspace.config, "--until-idle"])
        #expect(finish.status == 0, "\(finish.stderr)")
        let received = server.messages.flatMap(\.recipients)
        #expect(Set(received) == Set(recipients))
        let duplicates = received.count - Set(received).count
        #expect(duplicates <= 2 * maxInFlight)
        let status = try await kiln(["status", "--config", workspace.config, "--json"])
        let json = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any]
        #expect(json?["byState"] as? [String: Int] == ["delivered": recipients.count])
        await server.shutdown()
    }
}
