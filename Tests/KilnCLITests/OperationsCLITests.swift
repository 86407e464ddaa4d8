import Crypto
import Foundation
import Hummingbird
import KilnCore
import KilnTesting
import Synchronization
import Testing

/// A webhook receiver on loopback: answers 503 for `outage` after its first request, then
/// 200; keeps every request's body and signature.
final class WebhookReceiver: Sendable {
    struct Request: Sendable {
        var body: [UInt8]
        var signature: String?
        var status: Int
    }
    let outage: Duration
    private let state = Mutex<(firstAt: ContinuousClock.Instant?, requests: [Request])>((nil, []))

    init(outage: Duration) { self.outage = outage }

    var requests: [Request] { state.withLock { $0.requests } }

    /// The events of the requests it took (200), in the order they came.
    var acceptedEvents: [[String: Any]] {
        requests.filter { $0.status == 200 }.flatMap { request in
            (try? JSONSerialization.jsonObject(with: Data(request.body)) as? [[String: Any]]) ?? []
        }
    }

    func answer(_ body: [UInt8], signature: String?) -> Int {
        state.withLock { state in
            let now = ContinuousClock.now
            if state.firstAt == nil { state.firstAt = now }
            let status = now - state.firstAt! < outage ? 503 : 200
            state.requests.append(Request(body: body, signature: signature, status: status))
            return status
        }
    }

    /// Serves until the task is cancelled; returns the port once listening.
    func start(in group: inout ThrowingTaskGroup<Void, any Error>) async throws -> Int {
        let router = Hummingbird.Router()
        router.post("/hook") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 16 << 20)
            let status = self.answer(Array(body.readableBytesView), signature: request.headers.first { $0.name.canonicalName == "x-kiln-signature" }?.value)
            return Response(status: .init(code: status))
        }
        let (stream, continuation) = AsyncStream.makeStream(of: Int.self)
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              onServerRunning: { channel in continuation.yield(channel.localAddress?.port ?? 0) })
        group.addTask { try await app.runService(gracefulShutdownSignals: []) }
        for await port in stream { return port }
        throw CancellationError()
    }
}

/// `kiln run` in the background, its standard error kept in a file.
final class RunningKiln {
    let process: SpawnedProcess
    let logPath: String

    init(_ arguments: [String], environment: [String: String], logPath: String) throws {
        self.logPath = logPath
        let log = open(logPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard log >= 0 else { throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: logPath]) }
        defer { close(log) }
        process = try SpawnedProcess(kilnExecutable, arguments, environment: ChildProcess.environment(adding: environment),
                                     stderr: log)
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    func stop(signal: Int32 = SIGTERM) {
        if process.isRunning { kill(process.processIdentifier, signal) }
        process.waitUntilExit()
    }
}

/// The sum of a Prometheus metric's samples whose labels include every one of `labels`.
func metricSum(_ text: String, _ name: String, _ labels: [String: String] = [:]) -> Double {
    var sum = 0.0
    for line in text.split(separator: "\n") where line.hasPrefix(name + "{") || line.hasPrefix(name + " ") {
        let head = line.split(separator: " ").dropLast().joined(separator: " ")
        guard labels.allSatisfy({ head.contains("\($0.key)=\"\($0.value)\"") }) else { continue }
        sum += Double(line.split(separator: " ").last ?? "") ?? 0
    }
    return sum
}

@Suite(.serialized) struct OperationsCLITests {
    static let secret = "hook-secret-0123456789abcdef"

    /// Providers on their own receivers; `nobody…` bounces, `busy…` is throttled.
    static func receivers(delay: useconds_t = 1_000) async throws -> CampaignCLITests.Receivers {
        let script: LoopbackSMTPServer.Script = { command in
            if case .recipient(let address) = command.kind {
                if address.hasPrefix("nobody") { return SMTPReply(parsing: ProviderReplies.gmailUserUnknown) }
                if address.hasPrefix("busy") { return SMTPReply(code: 421, enhancedStatus: "4.7.28", text: "rate limited, try again later") }
            }
            if case .message = command.kind { usleep(delay) }
            return nil
        }
        return CampaignCLITests.Receivers(gmail: try await .start(script: script), yahoo: try await .start(script: script), other: try await .start(script: script))
    }

    static func workspace(_ receivers: CampaignCLITests.Receivers, hookPort: Int?) throws -> Workspace {
        try Workspace(route: receivers.other.url, maxInFlight: 32) { json in
            var delivery = json["delivery"] as! [String: Any]
            delivery["routes"] = ["gmail": receivers.gmail.url, "yahoo": receivers.yahoo.url, "*": receivers.other.url]
            json["delivery"] = delivery
            var destinations: [[String: Any]] = [["name": "log", "type": "file", "path": "events.jsonl"]]
            if let hookPort {
                destinations.append(["name": "hooks", "type": "webhook", "url": "http://127.0.0.1:\(hookPort)/hook", "secretEnv": "KILN_TEST_HOOK_SECRET",
                                     "events": ["delivery", "bounce"], "timeoutSeconds": 5])
            }
            json["configurationSets"] = [["name": "bulk", "pool": "p", "eventDestinations": destinations]]
        }
    }

    /// Queues a campaign of `count` recipients without delivering it (paused while it is read).
    static func queue(_ workspace: Workspace, count: Int, bounces: Int, throttled: Int = 0,
                      environment: [String: String] = [:]) async throws -> (all: [String], bounced: [String]) {
        var csv = "email,first_name,code\r\n"
        var all: [String] = []
        var bounced: [String] = []
        for i in 0..<count {
            let domain = ["gmail.com", "yahoo.com", "example.org"][i % 3]
            let address = i < bounces ? "nobody\(i)@\(domain)" : (i < bounces + throttled ? "busy\(i)@example.org" : "user\(i)@\(domain)")
            if i < bounces { bounced.append(address) }
            all.append(address)
            csv += "\(address),N\(i),C\(i)\r\n"
        }
        try csv.write(toFile: workspace.directory + "/list.csv", atomically: true, encoding: .utf8)
        try #"{"from": "news@example.com", "subject": "Hi {{first_name}}", "text": "Code {{code}}.\n", "tags": ["spring", "offers"]}"#
            .write(toFile: workspace.directory + "/template.json", atomically: true, encoding: .utf8)
        #expect(try await kiln(["pause", "--config", workspace.config], environment: environment).status == 0)
        let ingest = try await kiln(["campaign", "run", "--config", workspace.config, "--recipients", workspace.directory + "/list.csv",
                               "--template", workspace.directory + "/template.json", "--campaign", "spring1"], environment: environment)
        // Paused, the campaign is read whole and stops there (status 3: "finish it with resume").
        #expect(ingest.status == 3 && ingest.stderr.contains("stopped"), "\(ingest.stderr)")
        let resumed = try await kiln(["resume", "--config", workspace.config, "--json"], environment: environment)
        #expect(resumed.stdout.contains(#""action":"resume""#))
        return (all, bounced)
    }

    static func wait(seconds: Double, until condition: () async throws -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1_000))
        while ContinuousClock.now < deadline {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(100))
        }
        return try await condition()
    }

    /// The webhook answers 503 for its first 3 seconds, and `kiln run` is killed (SIGKILL)
    /// once part of the campaign is out, then started again: every delivery and bounce
    /// still reaches the webhook, signed, and the file destination has every event.
    @Test func aWebhookGetsEveryDeliveryAndBounceThroughAnOutageAndARestart() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            let hook = WebhookReceiver(outage: .seconds(3))
            let hookPort = try await hook.start(in: &group)
            defer { group.cancelAll() }
            // Slow receivers (100 ms a message on each server's event loop: 30 messages a
            // second in all, the campaign takes 30 s), so that the kill lands mid-run however
            // many transfer threads overlap their waits and however loaded the machine is.
            let receivers = try await Self.receivers(delay: 100_000)
            let workspace = try Self.workspace(receivers, hookPort: hookPort)
            defer { workspace.remove() }
            // The CLI commands that queue the campaign check the secret too. Given to each child, never
            // set in this process: setenv while another thread spawns a child (reading the environment) crashes.
            let environment = ["KILN_TEST_HOOK_SECRET": Self.secret]
            let (all, bounced) = try await Self.queue(workspace, count: 1_000, bounces: 30, environment: environment)
            let port = try freeLoopbackPort()
            let arguments = ["run", "--config", workspace.config, "--listen", "127.0.0.1:\(port)", "--log-level", "info", "--log-format", "json"]

            let first = try RunningKiln(arguments, environment: environment, logPath: workspace.directory + "/run1.log")
            _ = try await Self.wait(seconds: 90) {
                receivers.received.count >= 100 && hook.requests.contains { $0.status == 503 } && first.log.contains("HTTP 503")
            }
            first.stop(signal: SIGKILL)
            let beforeRestart = receivers.received.count
            #expect(beforeRestart < all.count - bounced.count, "the restart should land mid-run")
            #expect(hook.requests.contains { $0.status == 503 }, "the outage should have been met")

            let second = try RunningKiln(arguments, environment: environment, logPath: workspace.directory + "/run2.log")
            let delivered = Set(all).subtracting(bounced)
            let complete = try await Self.wait(seconds: 120) {
                let events = hook.acceptedEvents
                let deliveries = Set(events.filter { $0["eventType"] as? String == "delivery" }.compactMap { $0["recipient"] as? String })
                let bounces = Set(events.filter { $0["eventType"] as? String == "bounce" }.compactMap { $0["recipient"] as? String })
                return deliveries == delivered && bounces == Set(bounced)
            }
            let status = try await kiln(["status", "--config", workspace.config, "--json"])
            second.stop()
            #expect(complete, "every delivery and bounce event, at least once; log: \(second.log.suffix(2000))")
            #expect(Set(receivers.received) == delivered)

            // Every request is signed over its exact body with the secret.
            for request in hook.requests {
                let mac = HMAC<SHA256>.authenticationCode(for: request.body, using: SymmetricKey(data: Array(Self.secret.utf8)))
                #expect(request.signature == "sha256=" + mac.map { String(format: "%02x", $0) }.joined())
            }
            let events = hook.acceptedEvents
            #expect(events.allSatisfy { ["delivery", "bounce"].contains($0["eventType"] as? String ?? "") })
            #expect(hook.requests.allSatisfy { request in
                ((try? JSONSerialization.jsonObject(with: Data(request.body))) as? [Any])?.count ?? 0 <= 100
            })
            let bounce = try #require(events.first { $0["eventType"] as? String == "bounce" })
            #expect((bounce["smtpReply"] as? [String: Any])?["code"] as? Int == 550)
            #expect(bounce["class"] as? String == "permanent-user")
            #expect(bounce["campaign"] as? String == "spring1")
            #expect(bounce["tags"] as? [String] == ["spring", "offers"])
            // At least once: a duplicate carries the same eventId.
            let ids = events.compactMap { $0["eventId"] as? String }
            #expect(ids.count == events.count)

            // The file destination: one JSON object per line, every kind in the documented shape.
            let lines = try String(contentsOfFile: workspace.directory + "/events.jsonl", encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
            #expect(lines.last == "")
            var kinds = Set<String>()
            var accepted = Set<String>()
            for line in lines.dropLast() {
                let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(line)")
                let record = try JSONDecoder().decode(EventRecord.self, from: Data(line.utf8))
                #expect(Set(object.keys).isSubset(of: ["eventId", "eventType", "timestamp", "messageId", "recipient", "configurationSet", "campaign",
                                                       "tags", "provider", "ip", "route", "smtpReply", "class", "reason", "attempt", "detail", "tenant", "metadata"]))
                #expect(DeliveryEvent.Kind(rawValue: record.eventType) != nil)
                #expect(record.timestamp.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/) != nil)
                kinds.insert(record.eventType)
                if record.eventType == "accepted", let recipient = record.recipient { accepted.insert(recipient) }
                if record.eventType == "send" {
                    #expect(record.route == "dedicated" && ["127.0.0.2", "127.0.0.3"].contains(record.ip ?? ""))
                    #expect((record.attempt ?? 0) >= 1)
                }
                if record.eventType == "delivery" { #expect(record.smtpReply?.code == 250 && record.class == "success") }
                #expect(record.configurationSet == "bulk" || record.messageId == nil)
            }
            #expect(kinds.isSuperset(of: ["accepted", "send", "delivery", "bounce"]))
            #expect(accepted == Set(all))

            // kiln status: each destination's pending count and last error (the outage's, cleared since).
            let json = try #require(try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])
            let destinations = try #require(json["destinations"] as? [[String: Any]])
            #expect(Set(destinations.compactMap { $0["name"] as? String }) == ["bulk/log", "bulk/hooks"])
            #expect(destinations.allSatisfy { $0["lastError"] == nil })
            #expect(first.log.contains("HTTP 503"))
            await receivers.shutdown()
        }
    }

    /// `kiln run --listen` with a few hundred messages, some throttled and some bounced:
    /// /metrics counts every success the receivers got, and shows both IPs' warm-up;
    /// /healthz and /readyz answer, and /readyz says why while paused.
    @Test func runListenServesMetricsHealthAndReadiness() async throws {
        let receivers = try await Self.receivers()
        let workspace = try Self.workspace(receivers, hookPort: nil)
        defer { workspace.remove() }
        _ = try await Self.queue(workspace, count: 300, bounces: 12, throttled: 3)
        let port = try freeLoopbackPort()
        let base = "http://127.0.0.1:\(port)"
        let run = try RunningKiln(["run", "--config", workspace.config, "--listen", "127.0.0.1:\(port)", "--metrics-interval", "0.5"],
                                  environment: [:], logPath: workspace.directory + "/run.log")
        defer { run.stop() }
        var metrics = ""
        var received = 0.0
        let settled = try await Self.wait(seconds: 90) {
            // The receivers' count first: a success counted in the scrape was received before it.
            received = Double(receivers.received.count)
            metrics = await httpGet(base + "/metrics").body
            // Half the campaign received and counted, and every bounce (the list's first 12;
            // the throttled provider rests, so not everything arrives within the wait).
            return received >= 150 && metricSum(metrics, "kiln_attempts_total", ["class": "success"]) == received
                && metricSum(metrics, "kiln_attempts_total", ["class": "permanent-user"]) == 12
                && metrics.contains(#"kiln_warmup_level{ip="127.0.0.2""#) && metrics.contains(#"kiln_warmup_level{ip="127.0.0.3""#)
        }
        #expect(settled, "metrics: \(metrics.prefix(3000)) log: \(run.log.suffix(2000))")
        #expect(metricSum(metrics, "kiln_attempts_total", ["class": "success"]) == received)
        #expect(metricSum(metrics, "kiln_attempts_total", ["class": "permanent-user"]) == 12)
        #expect(metricSum(metrics, "kiln_attempts_total", ["class": "throttle"]) >= 1)
        #expect(metricSum(metrics, "kiln_attempts_total", ["ip": "127.0.0.2"]) > 0 && metricSum(metrics, "kiln_attempts_total", ["ip": "127.0.0.3"]) > 0)
        #expect(metrics.contains("kiln_transfer_duration_seconds_bucket{"))
        #expect(metrics.contains("kiln_hourly_allowance{"))
        #expect(metrics.contains(#"kiln_pool_ips{pool="p"} 2"#))
        #expect(metrics.contains(#"kiln_paused{scope="*"} 0"#))
        #expect(metrics.contains(#"kiln_messages{state="delivered"}"#))
        #expect(metrics.contains("kiln_inflight_transfers"))
        #expect(metrics.contains(#"kiln_reputation_rate{configuration_set="bulk",kind="bounce"}"#)
            || metrics.contains(#"kiln_reputation_rate{kind="bounce",configuration_set="bulk"}"#))
        #expect(metrics.contains(#"kiln_events_pending{destination="bulk/log"}"#))
        #expect(await httpGet(base + "/healthz").status == 200)
        #expect(await httpGet(base + "/readyz").status == 200)
        // HEAD answers every GET route, with no body.
        for path in ["/healthz", "/readyz", "/metrics"] {
            let head = try await ChildProcess.run("/usr/bin/curl", ["-s", "-I", "-m", "5", "-o", "/dev/null", "-w", "%{http_code}", base + path])
            #expect(head.stdout == "200", "HEAD \(path): \(head.stdout)")
        }
        #expect(try await kiln(["pause", "--config", workspace.config]).status == 0)
        let paused = try await Self.wait(seconds: 10) { await httpGet(base + "/readyz") == (503, "paused\n") }
        #expect(paused)
        // kiln_paused follows /readyz at once (the delivery run sets both when it reads the pauses).
        #expect(try await Self.wait(seconds: 1) { metricSum(await httpGet(base + "/metrics").body, "kiln_paused", ["scope": "*"]) == 1 })
        // A graceful stop ends well within the bound.
        run.stop()
        #expect(run.process.terminationStatus == 0, "\(run.log.suffix(2000))")
        await receivers.shutdown()
    }

    /// Receivers that hold every end of DATA until released: a graceful shutdown cannot
    /// wait them out. After `--shutdown-timeout` the transfers are cut off and their
    /// messages are back in the queue, none left leased, and the process has ended.
    @Test func aShutdownOutOfTimeReturnsRunningTransfersToTheQueue() async throws {
        let held = Atomic<Int>(0)
        let release = DispatchSemaphore(value: 0)
        let script: LoopbackSMTPServer.Script = { command in
            if case .message = command.kind {
                held.add(1, ordering: .relaxed)
                _ = release.wait(timeout: .now() + 120)
            }
            return nil
        }
        let receivers = CampaignCLITests.Receivers(gmail: try await .start(script: script), yahoo: try await .start(script: script),
                                                   other: try await .start(script: script))
        let workspace = try Self.workspace(receivers, hookPort: nil)
        defer { workspace.remove() }
        _ = try await Self.queue(workspace, count: 30, bounces: 0)
        let run = try RunningKiln(["run", "--config", workspace.config, "--shutdown-timeout", "1", "--log-level", "debug"], environment: [:],
                                  logPath: workspace.directory + "/run.log")
        #expect(try await Self.wait(seconds: 60) { held.load(ordering: .relaxed) >= 3 }, "\(run.log.suffix(2000))")
        let stopping = ContinuousClock.now
        kill(run.process.processIdentifier, SIGTERM)
        let ended = try await Self.wait(seconds: 60) { !run.process.isRunning }
        let took = ContinuousClock.now - stopping
        print("shutdown out of time: the process ended \(took) after SIGTERM (--shutdown-timeout 1)")
        // Released only now: a shutdown that waited for the receivers would take 120 s.
        for _ in 0..<100 { release.signal() }
        run.stop()
        #expect(ended && took < .seconds(60), "the shutdown took \(took): \(run.log.suffix(4000))")
        let status = try await kiln(["status", "--config", workspace.config, "--json"])
        let json = try #require(try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])
        let byState = try #require(json["byState"] as? [String: Int])
        #expect(byState["leased", default: 0] == 0, "\(byState)")
        #expect(byState["queued", default: 0] + byState["deferred", default: 0] == 30, "\(byState)")
        // At most the messages held at the end of DATA arrived (the receivers took them in
        // whole before they were cut off): they are queued again, to arrive twice.
        #expect(receivers.received.count <= held.load(ordering: .relaxed))
        await receivers.shutdown()
    }

    /// At trace level, with a webhook, an unsubscribe key and JSON logs: one log line per
    /// attempt, and neither secret nor the message body anywhere in the output.
    @Test func noSecretOrBodyIsLoggedAtAnyLevel() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            let hook = WebhookReceiver(outage: .zero)
            let hookPort = try await hook.start(in: &group)
            defer { group.cancelAll() }
            let receivers = try await Self.receivers()
            var workspace = try Self.workspace(receivers, hookPort: hookPort)
            defer { workspace.remove() }
            let unsubscribeSecret = "unsubscribe-key-fedcba9876543210"
            workspace = try Workspace(reusing: workspace) { json in
                var sets = json["configurationSets"] as! [[String: Any]]
                sets[0]["unsubscribe"] = ["url": "https://u.example.com/u", "secretEnv": "KILN_TEST_LOG_UNSUBSCRIBE"]
                json["configurationSets"] = sets
            }
            let environment = ["KILN_TEST_HOOK_SECRET": Self.secret, "KILN_TEST_LOG_UNSUBSCRIBE": unsubscribeSecret]
            let (all, bounced) = try await Self.queue(workspace, count: 6, bounces: 1, environment: environment)
            let run = try RunningKiln(["run", "--config", workspace.config, "--log-level", "trace", "--log-format", "json"], environment: environment,
                                      logPath: workspace.directory + "/trace.log")
            let done = try await Self.wait(seconds: 60) {
                hook.acceptedEvents.filter { ["delivery", "bounce"].contains($0["eventType"] as? String ?? "") }.count >= all.count
            }
            run.stop()
            #expect(done, "\(run.log.suffix(2000))")
            let log = run.log
            #expect(!log.contains(Self.secret) && !log.contains(unsubscribeSecret))
            #expect(!log.contains("Code C3."))
            let lines = log.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            let attempts = lines.filter { $0["message"] as? String == "attempt" }
            #expect(attempts.count == all.count)
            #expect(attempts.allSatisfy { ["message", "ip", "provider", "code", "class", "duration"].allSatisfy($0.keys.contains) })
            #expect(attempts.filter { $0["class"] as? String == "permanent-user" }.count == bounced.count)
            await receivers.shutdown()
        }
    }
}
