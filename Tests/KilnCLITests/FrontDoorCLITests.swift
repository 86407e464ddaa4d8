import Foundation
import KilnCore
import KilnLoopback
import KilnTesting
import Testing

/// The front door as an application meets it: `kiln run` with the SMTP submission
/// listener and the HTTP API, driven by Python's smtplib and curl over loopback.
@Suite(.serialized) struct FrontDoorCLITests {
    static let environment = ["KILN_TEST_RETURN_PATH": "return-path-test-secret-0123", "KILN_TEST_UNSUB": "unsubscribe-test-secret-0123"]
    static var clientScript: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts/submission-client.py").path
    }

    struct FrontDoor {
        let workspace: Workspace
        let receiver: LoopbackSMTPServer
        let smtpPort: Int
        let httpPort: Int
        let caFile: String
        let dkimRecord: (name: String, value: String)
        var secrets: [String: String] = [:]
    }

    /// A workspace with an ed25519 DKIM key, STARTTLS certificates, tenants `default`
    /// (example.com) and `tiny` (tiny.test, 2 recipients a day), and three credentials.
    static func frontDoor() async throws -> FrontDoor {
        let receiver = try await LoopbackSMTPServer.start()
        let smtpPort = try freeLoopbackPort()
        let httpPort = try freeLoopbackPort()
        let workspace = try Workspace(route: receiver.url) { json in
            json["identities"] = [
                ["domain": "example.com", "returnPathDomain": "bounce.example.com",
                 "dkim": [["selector": "k1", "algorithm": "ed25519-sha256", "privateKeyFile": "dkim.pem"]]],
                ["domain": "tiny.test", "owner": "tiny"],
            ]
            json["tenants"] = [["name": "tiny", "quota": ["maxPer24Hours": 2]]]
            json["feedback"] = ["returnPathSecretEnv": "KILN_TEST_RETURN_PATH"]
            json["configurationSets"] = [["name": "bulk", "pool": "p",
                                          "unsubscribe": ["url": "https://example.com/u", "secretEnv": "KILN_TEST_UNSUB"],
                                          "eventDestinations": [["name": "log", "type": "file", "path": "events.jsonl"]]]]
            json["submission"] = ["smtp": ["listen": ["127.0.0.1:\(smtpPort)"], "tls": ["certificateFile": "tls.crt", "privateKeyFile": "tls.key"],
                                           "maxMessageBytes": 20_000, "maxRecipients": 5, "hostname": "submit.example.com"]]
        }
        let authority = try TestCertificateAuthority()
        let identity = try authority.issue(for: "localhost")
        try identity.certificatePEM.write(toFile: workspace.directory + "/tls.crt", atomically: true, encoding: .utf8)
        try identity.keyPEM.write(toFile: workspace.directory + "/tls.key", atomically: true, encoding: .utf8)
        try authority.certificatePEM.write(toFile: workspace.directory + "/ca.pem", atomically: true, encoding: .utf8)
        let key = try await kiln(["identity", "keygen", "--domain", "example.com", "--selector", "k1", "--algorithm", "ed25519-sha256",
                                  "--out", workspace.directory + "/dkim.pem", "--json"])
        let record = try JSONSerialization.jsonObject(with: Data(key.stdout.utf8)) as! [String: Any]
        var door = FrontDoor(workspace: workspace, receiver: receiver, smtpPort: smtpPort, httpPort: httpPort, caFile: workspace.directory + "/ca.pem",
                             dkimRecord: (record["name"] as! String, record["value"] as! String))
        for (name, extra) in [("app", [String]()), ("narrow", ["--from", "news@example.com", "--source", "127.0.0.8/32"]), ("tiny", ["--tenant", "tiny"])] {
            let created = try await kiln(["credentials", "create", "--config", workspace.config, "--name", name, "--json"] + extra, environment: environment)
            #expect(created.status == 0, "\(created.stderr)")
            let json = try JSONSerialization.jsonObject(with: Data(created.stdout.utf8)) as! [String: String]
            door.secrets[name] = json["secret"]
        }
        return door
    }

    static func start(_ door: FrontDoor) async throws -> RunningKiln {
        let running = try RunningKiln(["run", "--config", door.workspace.config, "--listen", "127.0.0.1:\(door.httpPort)", "--log-level", "info"],
                                      environment: environment, logPath: door.workspace.directory + "/run.log")
        let up = try await OperationsCLITests.wait(seconds: 30) { running.log.contains("SMTP submission listening") }
        #expect(up, "\(running.log)")
        return running
    }

    @Test func smtplibWithStartTLSAndAuthDeliversAHundredSignedMessages() async throws {
        let door = try await Self.frontDoor()
        defer { door.workspace.remove() }
        let running = try await Self.start(door)
        defer { running.stop() }
        let sent = try await ChildProcess.run("/usr/bin/env", ["python3", Self.clientScript, "send", "--port", "\(door.smtpPort)", "--ca", door.caFile,
                                                               "--user", "app", "--password=\(door.secrets["app"]!)", "--count", "100"])
        #expect(sent.status == 0, "\(sent.stderr)")
        let result = try JSONSerialization.jsonObject(with: Data(sent.stdout.utf8)) as? [String: Any]
        let codes = result?["codes"] as? [Int] ?? []
        let ids = (result?["ids"] as? [Any] ?? []).compactMap { $0 as? String }
        #expect(codes == Array(repeating: 250, count: 100))
        #expect(Set(ids).count == 100)
        let arrived = try await OperationsCLITests.wait(seconds: 60) { door.receiver.messages.count >= 100 }
        #expect(arrived, "\(door.receiver.messages.count) arrived; \(running.log.suffix(2_000))")
        for message in door.receiver.messages.prefix(5) {
            let text = String(decoding: message.data, as: UTF8.self)
            let head = text.components(separatedBy: "\r\n\r\n")[0]
            #expect(head.contains("Feedback-ID: ") && head.contains("List-Unsubscribe:") && head.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"), "\(head)")
            #expect(head.contains("DKIM-Signature: ") && !head.lowercased().contains("x-kiln-"))
            if let verified = IndependentChecks.verifyDKIM(message.data, records: [door.dkimRecord.name: door.dkimRecord.value]) {
                #expect(verified == [true], "dkimpy: \(verified)")
            }
        }
        await door.receiver.shutdown()
    }

    @Test func everyRefusalReachesTheClientWithItsCode() async throws {
        let door = try await Self.frontDoor()
        defer { door.workspace.remove() }
        let running = try await Self.start(door)
        defer { running.stop() }
        let run = try await ChildProcess.run("/usr/bin/env", [
            "python3", Self.clientScript, "refusals", "--port", "\(door.smtpPort)", "--ca", door.caFile,
            "--user", "app", "--password=\(door.secrets["app"]!)", "--narrow-user", "narrow", "--narrow-password=\(door.secrets["narrow"]!)",
            "--tiny-user", "tiny", "--tiny-password=\(door.secrets["tiny"]!)", "--tiny-quota", "2", "--max-recipients", "5",
        ])
        #expect(run.status == 0, "\(run.stderr)")
        let codes = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any] ?? [:]
        #expect(codes["authBeforeTLS"] as? Int == 538)
        #expect(codes["noAuth"] as? Int == 530)
        #expect(codes["badPassword"] as? Int == 535)
        #expect(codes["forbiddenMailFrom"] as? Int == 550)
        #expect(codes["forbiddenHeaderFrom"] as? Int == 550)
        #expect(codes["forbiddenSource"] as? Int == 535)
        #expect(codes["tooBigBySize"] as? Int == 552)
        #expect(codes["tooBigData"] as? Int == 552)
        #expect(codes["tooManyRecipients"] as? Int == 452 && codes["recipientsAccepted"] as? Int == 5)
        #expect(codes["withinQuota"] as? [Int] == [250, 250])
        #expect(codes["overQuota"] as? Int == 451)
        await door.receiver.shutdown()
    }

    @Test func curlPostsToTheAPIAndTheEventsCarryTheMetadata() async throws {
        let door = try await Self.frontDoor()
        defer { door.workspace.remove() }
        let running = try await Self.start(door)
        defer { running.stop() }
        let body = #"""
            {"from": "news@example.com", "subject": "Hi {{first}}", "text": "Hello {{first}}.",
             "recipients": [{"email": "ann@gmail.com", "substitutions": {"first": "Ann"}, "metadata": {"order": "A-1"}},
                            {"email": "x@not_a_domain", "substitutions": {"first": "X"}}]}
            """#
        let posted = try await ChildProcess.run("/usr/bin/curl", ["-s", "-m", "10", "-u", "app:\(door.secrets["app"]!)", "-H", "Content-Type: application/json",
                                                                  "--data-binary", body, "-w", "\n%{http_code}", "http://127.0.0.1:\(door.httpPort)/v1/messages"])
        let lines = posted.stdout.split(separator: "\n")
        #expect(lines.last == "200", "\(posted.stdout)")
        let answer = try JSONSerialization.jsonObject(with: Data(lines.first!.utf8)) as? [String: Any] ?? [:]
        #expect(answer["accepted"] as? Int == 1)
        #expect((answer["rejected"] as? [[String: Any]])?.first?["email"] as? String == "x@not_a_domain")
        let id = ((answer["messages"] as? [[String: Any]])?.first?["messageId"] as? String) ?? ""
        let events = door.workspace.directory + "/events.jsonl"
        let delivered = try await OperationsCLITests.wait(seconds: 60) {
            ((try? String(contentsOfFile: events, encoding: .utf8)) ?? "").split(separator: "\n").contains { $0.contains(#""eventType":"delivery""#) && $0.contains(#""messageId":"\#(id)""#) }
        }
        #expect(delivered, "\(running.log.suffix(2_000))")
        let mine = ((try? String(contentsOfFile: events, encoding: .utf8)) ?? "").split(separator: "\n").filter { $0.contains(#""messageId":"\#(id)""#) }
        #expect(mine.count >= 2)
        #expect(mine.allSatisfy { $0.contains(#""metadata":{"order":"A-1"}"#) && $0.contains(#""tenant":"default""#) }, "\(mine)")
        // The message's own page, for its tenant only.
        let status = await httpGetAuthenticated("http://127.0.0.1:\(door.httpPort)/v1/messages/\(id)", user: "app", password: door.secrets["app"]!)
        #expect(status.status == 200 && status.body.contains(#""state":"delivered""#), "\(status.body)")
        let other = await httpGetAuthenticated("http://127.0.0.1:\(door.httpPort)/v1/messages/\(id)", user: "tiny", password: door.secrets["tiny"]!)
        #expect(other.status == 404)
        await door.receiver.shutdown()
    }

    /// schemathesis fuzzes the running daemon's API from its own OpenAPI document: no 5xx,
    /// no answer the document does not describe (CI installs it: `make test-deps`).
    @Test func schemathesisFindsNothingAgainstTheRunningDaemon() async throws {
        guard IndependentChecks.pythonHas(["schemathesis"]) else {
            #expect(ProcessInfo.processInfo.environment["KILN_REQUIRE_SCHEMATHESIS"] == nil, "schemathesis is required (pip install schemathesis)")
            return
        }
        let door = try await Self.frontDoor()
        defer { door.workspace.remove() }
        let running = try await Self.start(door)
        defer { running.stop() }
        let script = URL(fileURLWithPath: Self.clientScript).deletingLastPathComponent().appendingPathComponent("api-fuzz.sh").path
        let fuzz = try await ChildProcess.run("/bin/bash", [script, "http://127.0.0.1:\(door.httpPort)"],
                                              environment: ChildProcess.environment(adding: [
                                                "KILN_API_USER": "app", "KILN_API_SECRET": door.secrets["app"]!, "KILN_FUZZ_EXAMPLES": "40", "KILN_FUZZ_SEED": "7",
                                              ]))
        #expect(fuzz.status == 0, "\(fuzz.stdout.suffix(4_000))\n\(fuzz.stderr.suffix(2_000))")
        #expect(!running.log.contains("Fatal error"))
        await door.receiver.shutdown()
    }

    /// With 1,024 descriptors, 1,000 idle connections to each of the HTTP server and the
    /// SMTP listener (2,000 in all) neither crash the daemon nor stop delivery: inbound
    /// connections get what delivery, the store and the event file leave them.
    /// `scripts/flood.sh 5` runs it five times in a row.
    @Test func aFloodOfIdleConnectionsNeitherCrashesTheDaemonNorStopsDelivery() async throws {
        let door = try await Self.frontDoor()
        defer { door.workspace.remove() }
        let log = door.workspace.directory + "/flood.log"
        let fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        let process = try SpawnedProcess("/bin/sh", ["-c", "ulimit -n 1024 && exec \"$0\" \"$@\"", kilnExecutable, "run", "--config", door.workspace.config,
                                                     "--listen", "127.0.0.1:\(door.httpPort)", "--log-level", "info"],
                                         environment: ChildProcess.environment(adding: Self.environment), stderr: fd)
        close(fd)
        defer {
            if process.isRunning { kill(process.processIdentifier, SIGTERM) }
            process.waitUntilExit()
        }
        let text = { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }
        #expect(try await OperationsCLITests.wait(seconds: 30) { text().contains("SMTP submission listening") }, "\(text())")
        #expect(text().contains("SMTP sessions"), "the budget is logged: \(text())")
        // This process needs room for its 2,000 ends too.
        var files = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &files) == 0, files.rlim_cur < files.rlim_max {
            files.rlim_cur = files.rlim_max
            setrlimit(Int32(RLIMIT_NOFILE.rawValue), &files)
        }
        var sockets: [Int32] = []
        for port in [door.httpPort, door.smtpPort] {
            for _ in 0..<1_000 { if let socket = openIdleConnection(port: port) { sockets.append(socket) } }
        }
        defer { for socket in sockets { close(socket) } }
        #expect(sockets.count == 2_000, "only \(sockets.count) connections opened")
        try await Task.sleep(for: .seconds(1))
        // Delivery goes on during the flood: a message queued by another process arrives.
        let sent = try await kiln(["send", "--config", door.workspace.config, "--from", "news@example.com", "--to", "flood@gmail.com",
                                   "--subject", "During the flood", "--text", "Still delivering."], environment: Self.environment)
        #expect(sent.status == 0, "\(sent.stderr)")
        let arrived = try await OperationsCLITests.wait(seconds: 30) { door.receiver.messages.contains { $0.recipients == ["flood@gmail.com"] } }
        #expect(arrived, "\(text().suffix(3_000))")
        #expect(process.isRunning)
        #expect(!text().contains("Too many open files"), "\(text().suffix(3_000))")
        for socket in sockets { close(socket) }
        sockets.removeAll()
        // Once the flood is gone, the HTTP server answers again.
        let healthy = try await OperationsCLITests.wait(seconds: 30) { await httpGet("http://127.0.0.1:\(door.httpPort)/healthz").status == 200 }
        #expect(healthy)
        await door.receiver.shutdown()
    }

    /// A credential revoked with the CLI is refused by the running daemon within a few seconds.
    @Test func aRevokedCredentialIsRefusedByTheRunningDaemon() async throws {
        let door = try await Self.frontDoor()
        defer { door.workspace.remove() }
        let running = try await Self.start(door)
        defer { running.stop() }
        let url = "http://127.0.0.1:\(door.httpPort)/v1/messages/1"
        #expect(await httpGetAuthenticated(url, user: "app", password: door.secrets["app"]!).status == 404)
        #expect(try await kiln(["credentials", "revoke", "--config", door.workspace.config, "app"], environment: Self.environment).status == 0)
        let refused = try await OperationsCLITests.wait(seconds: 5) {
            await httpGetAuthenticated(url, user: "app", password: door.secrets["app"]!).status == 401
        }
        #expect(refused)
        await door.receiver.shutdown()
    }
}

/// A TCP connection to 127.0.0.1:`port` that sends nothing, opened without waiting (a full
/// backlog does not block the test); nil when no socket could be made.
func openIdleConnection(port: Int) -> Int32? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return nil }
    _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    return fd
}

/// An HTTP GET with Basic authentication, through curl.
func httpGetAuthenticated(_ url: String, user: String, password: String) async -> (status: Int, body: String) {
    guard let output = try? await ChildProcess.run("/usr/bin/curl", ["-s", "-m", "5", "-u", "\(user):\(password)", "-w", "\n%{http_code}", url]) else { return (0, "") }
    var text = output.stdout
    let status = Int(text.split(separator: "\n").last ?? "") ?? 0
    if let cut = text.lastIndex(of: "\n") { text = String(text[..<cut]) }
    return (status, text)
}
