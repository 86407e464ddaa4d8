import Foundation
import Kiln
import KilnCore
import KilnMessage
import KilnStore
import KilnTesting
import Logging
import Testing

/// Two nodes on one PostgreSQL queue, each sending from its own two loopback IPs over real
/// SMTP to a loopback receiver: the campaign arrives once, a pause stops both, a
/// suppression holds for both, and a node killed with SIGKILL loses nothing.
@Suite(.enabled(if: PostgresTestServer.enabled, "set KILN_TEST_POSTGRES_URL (make test does)"), .serialized)
struct ClusterTests {
    static let returnPathSecret = "cluster-return-path-secret-01"
    static let nodeIPs = ["a": ["127.0.0.2", "127.0.0.3"], "b": ["127.0.0.4", "127.0.0.5"]]

    /// A workspace: the database, the receiver, and the configuration (as JSON, for the
    /// in-process engines and the `kiln` processes alike).
    struct Cluster {
        let db: TestDatabase
        let server: LoopbackSMTPServer
        let directory: String
        var config: String { directory + "/kiln.json" }

        init(hourlyPerIP: Int = 1_000_000, leaseSeconds: Int = 60, maxInFlight: Int = 64) async throws {
            db = try await PostgresTestServer.freshDatabase()
            server = try await LoopbackSMTPServer.start()
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-cluster-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let json: [String: Any] = [
                "store": ["url": db.url, "passwordEnv": "KILN_TEST_POSTGRES_PASSWORD", "tls": "disable", "leaseSeconds": leaseSeconds],
                "senderId": "Test",
                "identities": [["domain": "example.com", "returnPathDomain": "bounce.example.com"]],
                "pools": [["name": "p", "ips": ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"], "scaling": "fixed"]],
                "nodes": [["name": "a", "ips": ClusterTests.nodeIPs["a"]!], ["name": "b", "ips": ClusterTests.nodeIPs["b"]!]],
                "providers": Dictionary(uniqueKeysWithValues: ["gmail", "microsoft", "yahoo", "apple", "other"].map {
                    ($0, ["coldHourly": hourlyPerIP, "warmHourly": hourlyPerIP])
                }),
                "delivery": ["mode": "routes", "routes": ["*": server.url], "heloName": "mta.example.com", "tls": "none",
                             "connectTimeoutSeconds": 5, "transferTimeoutSeconds": 30, "maxInFlight": maxInFlight],
                "configurationSets": [["name": "bulk", "pool": "p"]],
                "defaultConfigurationSet": "bulk",
                "feedback": ["returnPathSecretEnv": "KILN_TEST_RETURN_PATH"],
            ]
            try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: config))
        }

        static var environment: [String: String] {
            var environment = ProcessInfo.processInfo.environment
            environment["KILN_TEST_POSTGRES_PASSWORD"] = PostgresTestServer.password ?? "kiln-test-password"
            environment["KILN_TEST_RETURN_PATH"] = ClusterTests.returnPathSecret
            return environment
        }

        func engine(node: String?) throws -> SendEngine {
            let configuration = try Configuration.load(json: try Data(contentsOf: URL(fileURLWithPath: config)), source: config)
            var secrets = SecretSource(baseDirectory: directory)
            secrets.environment = Self.environment
            return try SendEngine(configuration: configuration, baseDirectory: directory, secrets: secrets, logger: Logger.test(), node: node)
        }

        /// A CSV of `count` recipients at several providers, and a template.
        func writeCampaign(_ count: Int) throws -> (list: String, template: MessageTemplate, addresses: [String]) {
            let addresses = (0..<count).map { "user\($0)@\(["gmail.com", "yahoo.com", "outlook.com", "example.org"][$0 % 4])" }
            let list = directory + "/list.csv"
            try ("email,name\n" + addresses.enumerated().map { "\($1),N\($0)\n" }.joined()).write(toFile: list, atomically: true, encoding: .utf8)
            try #"{"from": "news@example.com", "subject": "Hi {{name}}", "text": "Hello {{name}}.\n"}"#
                .write(toFile: directory + "/template.json", atomically: true, encoding: .utf8)
            return (list, MessageTemplate(from: "news@example.com", subject: "Hi {{name}}", text: "Hello {{name}}.\n"), addresses)
        }

        func finish() async {
            await server.shutdown()
            await db.drop()
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    @Test func twoNodesDeliverACampaignOnceEachFromAllFourIPs() async throws {
        let cluster = try await Cluster()
        let a = try cluster.engine(node: "a")
        let b = try cluster.engine(node: "b")
        let (list, template, addresses) = try cluster.writeCampaign(20_000)
        let runner = CampaignRunner(engine: a)
        let record = try await runner.ingest(try await runner.create(id: "c1", recipientsFile: list, template: template, configurationSet: nil))
        #expect(record.accepted == 20_000)
        async let first: Void = a.runUntilIdle()
        async let second: Void = b.runUntilIdle()
        _ = try await (first, second)
        let received = cluster.server.messages
        #expect(received.count == 20_000)
        #expect(Set(received.flatMap(\.recipients)) == Set(addresses))
        // Each node sent from its own IPs, and both took part.
        #expect(Set(received.map(\.clientAddress)) == ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"])
        let report = try await CampaignRunner(engine: b).report("c1")
        #expect(report.delivered == 20_000)
        #expect(report.pending == 0)
        await cluster.finish()
    }

    @Test func aPauseFromAnyNodeStopsBothWithinFiveSeconds() async throws {
        // One message a second per IP after a burst of a minute's worth (60): four IPs
        // cannot finish 3,000 before the pause.
        let cluster = try await Cluster(hourlyPerIP: 3_600)
        let a = try cluster.engine(node: "a")
        let b = try cluster.engine(node: "b")
        let operator_ = try cluster.engine(node: nil)
        let recipients = (0..<3_000).map { "p\($0)@gmail.com" }
        for chunk in stride(from: 0, to: recipients.count, by: 500) {
            _ = try await operator_.submit(OutgoingMessage(MessageDraft(from: try EmailAddress("news@example.com"), to: try recipients[chunk..<chunk + 500].map(EmailAddress.init),
                                                                        subject: "Hi", text: "Hi.\n")))
        }
        let runs = Task {
            async let x: Void = a.run()
            async let y: Void = b.run()
            _ = try await (x, y)
        }
        #expect(await cluster.server.waitForMessages(40, timeout: .seconds(60)))
        try await operator_.pause()
        try await Task.sleep(for: .seconds(5))
        let atFive = cluster.server.messages.count
        try await Task.sleep(for: .seconds(2))
        let later = cluster.server.messages.count
        #expect(atFive == later, "a node still sent after the pause had had 5 s to reach it")
        #expect(later < recipients.count)
        // Both nodes sent before the pause.
        let sources = Set(cluster.server.messages.map(\.clientAddress))
        #expect(!sources.isDisjoint(with: ClusterTests.nodeIPs["a"]!) && !sources.isDisjoint(with: ClusterTests.nodeIPs["b"]!))
        a.stop()
        b.stop()
        try await runs.value
        await cluster.finish()
    }

    @Test func aSuppressionAddedThroughOneNodeHoldsOnTheOther() async throws {
        let cluster = try await Cluster()
        let a = try cluster.engine(node: "a")
        let b = try cluster.engine(node: "b")
        try await a.store.suppress([SuppressionEntry(address: "gone@gmail.com", reason: .manual, source: "operator", createdAt: SendEngine.wallClock())])
        let ids = try await b.submit(OutgoingMessage(MessageDraft(from: try EmailAddress("news@example.com"),
                                                                  to: [try EmailAddress("gone@gmail.com"), try EmailAddress("here@gmail.com")],
                                                                  subject: "Hi", text: "Hi.\n")))
        try await b.runUntilIdle()
        #expect(try await a.store.messages(ids: ids).map(\.state) == [.suppressed, .delivered])
        #expect(cluster.server.messages.flatMap(\.recipients) == ["here@gmail.com"])
        await cluster.finish()
    }

    @Test func aNodeKilledMidCampaignLosesNothing() async throws {
        // Leases of 5 s: node a sends from a `kiln` process that is killed mid-campaign.
        let maxInFlight = 32
        let cluster = try await Cluster(hourlyPerIP: 180_000, leaseSeconds: 5, maxInFlight: maxInFlight)
        let (list, _, addresses) = try cluster.writeCampaign(3_000)
        let process = try SpawnedProcess(kilnExecutable, ["campaign", "run", "--config", cluster.config, "--node", "a", "--recipients", list,
                                                          "--template", cluster.directory + "/template.json", "--campaign", "k1"],
                                         environment: Cluster.environment)
        #expect(await cluster.server.waitForMessages(300, timeout: .seconds(120)))
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal)
        let killedAt = cluster.server.messages.count
        #expect(killedAt < addresses.count)

        // Node b finishes the campaign (resumed from its node), taking over a's leases once they expire.
        let b = try cluster.engine(node: "b")
        let runner = CampaignRunner(engine: b)
        let record = try await runner.ingest(try #require(try await b.store.campaign(id: "k1")))
        #expect(record.accepted == addresses.count)
        let run = Task { try await b.run() }
        let deadline = ContinuousClock.now + .seconds(180)
        while ContinuousClock.now < deadline {
            let pending = try await b.store.counts().filter { [.queued, .leased, .deferred].contains($0.state) }.reduce(0) { $0 + $1.count }
            if pending == 0 { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        b.stop()
        try await run.value
        let received = cluster.server.messages.flatMap(\.recipients)
        #expect(Set(received) == Set(addresses), "every recipient arrives")
        #expect(received.count - Set(received).count <= maxInFlight, "duplicates stay within the killed node's in-flight limit")
        #expect(try await CampaignRunner(engine: b).report("k1").delivered == addresses.count)
        await cluster.finish()
    }
}
