import Foundation
import Kiln
import KilnCore
import KilnStore
import KilnTesting
import Testing

/// A node frozen (SIGSTOP) past its leases in the middle of a campaign, then thawed
/// (SIGCONT): node a's `kiln campaign run` takes b's leases over and ends on its own, every
/// recipient arrives, at most b's `maxInFlight` of them twice, every message ends
/// delivered, and b's late outcomes are kept as `staleOutcome` events that changed nothing
/// (docs/cluster.md, "Fenced leases"). Both nodes are `kiln` processes. One line starting
/// `freeze:` sums the run up (`scripts/cluster-freeze.sh` runs this test again and again
/// and collects it).
@Suite(.enabled(if: PostgresTestServer.enabled, "set KILN_TEST_POSTGRES_URL (make test does)"), .serialized)
struct ClusterFreezeTests {
    /// The shortest lease the configuration allows (5 to 3600).
    static let leaseSeconds = 5
    static let maxInFlight = 32
    static let recipients = 2_000
    /// Per (IP, provider): one a second after a burst of a minute's worth (60). Four
    /// providers on four IPs send 16 a second: the campaign takes about a minute, so the
    /// freeze (20 s) falls well inside it.
    static let hourlyPerIP = 3_600

    @Test func aNodeFrozenPastItsLeasesMidCampaignChangesNothingWhenItThaws() async throws {
        let cluster = try await ClusterTests.Cluster(hourlyPerIP: Self.hourlyPerIP, leaseSeconds: Self.leaseSeconds, maxInFlight: Self.maxInFlight)
        // The processes' output, kept (and named) when the run fails.
        let logs = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-freeze-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: logs, withIntermediateDirectories: true)
        let children = Children()
        // Whatever happens (an expectation failing, an error thrown), no `kiln` is left behind.
        defer { children.killAll() }
        var passed = false
        do {
            passed = try await scenario(cluster, children: children, logs: logs)
        } catch {
            children.killAll()
            print("freeze: error \(error); logs kept in \(logs)")
            await cluster.finish()
            throw error
        }
        children.killAll()
        if passed, ProcessInfo.processInfo.environment["KILN_FREEZE_KEEP_LOGS"] != "1" {
            try? FileManager.default.removeItem(atPath: logs)
        } else {
            print("freeze: logs kept in \(logs)")
        }
        await cluster.finish()
    }

    /// The scenario; true when every check held.
    func scenario(_ cluster: ClusterTests.Cluster, children: Children, logs: String) async throws -> Bool {
        var ok = true
        func check(_ condition: Bool, _ comment: Comment, sourceLocation: SourceLocation = #_sourceLocation) {
            #expect(condition, comment, sourceLocation: sourceLocation)
            if !condition { ok = false }
        }
        let lease = Double(Self.leaseSeconds)
        let (list, _, addresses) = try cluster.writeCampaign(Self.recipients)
        let bIPs = Set(ClusterTests.nodeIPs["b"]!), aIPs = Set(ClusterTests.nodeIPs["a"]!)

        // Node b waits for work; node a queues the campaign and delivers it with b.
        let b = try children.spawn(["run", "--config", cluster.config, "--node", "b"], output: logs + "/b", environment: ClusterTests.Cluster.environment)
        let started = ContinuousClock.now
        let a = try children.spawn(["campaign", "run", "--config", cluster.config, "--node", "a", "--recipients", list,
                                    "--template", cluster.directory + "/template.json", "--campaign", "f1"],
                                   output: logs + "/a", environment: ClusterTests.Cluster.environment)

        // Both nodes under way: b has delivered some (its IPs are 127.0.0.4 and .5), a too.
        let underWay = try await Self.bothDelivered(cluster, aIPs, bIPs, while: a)
        check(underWay, "both nodes delivered before the freeze; a: \(Self.tail(logs + "/a.err")); b: \(Self.tail(logs + "/b.err"))")
        guard underWay else { return false }

        // Frozen for four lease times: its leases expire, a's heartbeat takes them back,
        // and a sends them; then b thaws with its transfers and outcomes where they were.
        kill(b.processIdentifier, SIGSTOP)
        let frozenAt = cluster.server.messages.count
        let frozenFromB = cluster.server.messages.filter { bIPs.contains($0.clientAddress) }.count
        // What b holds leased now (and so leaves unrecorded): at most its maxInFlight if
        // it counts every leased message until its outcome is stored.
        let observer = try cluster.engine(node: nil)
        try await Task.sleep(for: .milliseconds(200))
        let bLeasedAtFreeze = try await observer.store.nodes().filter { $0.node == "b" }.map(\.leased).reduce(0, +)
        try await Task.sleep(for: .seconds(4 * lease) - .milliseconds(200))
        let thawedAt = cluster.server.messages.count
        kill(b.processIdentifier, SIGCONT)
        check(b.isRunning, "node b survived the freeze")

        // a's campaign ends on its own, with every message delivered.
        let runTime = try await Self.campaignEnds(a, named: "a", started: started, children: children, logs: logs,
                                                  check: { check($0, $1, sourceLocation: $2) })

        let engine = observer
        let (duplicates, stale) = try await Self.checkSettled(cluster, engine: engine, addresses: addresses, staleNode: "b",
                                                              maxInFlight: Self.maxInFlight, check: { check($0, $1, sourceLocation: $2) })
        let staleIDs = stale.compactMap(\.messageID)
        // Where b's copy of each stale outcome's message arrived: before the freeze (b had
        // it with the receiver, its outcome not yet stored) or after the thaw (the transfer
        // b still held).
        let arrivals = cluster.server.messages
        let staleRecipients = Set(stale.compactMap(\.recipient))
        let staleFromB = arrivals.indices.filter { bIPs.contains(arrivals[$0].clientAddress) && arrivals[$0].recipients.contains(where: staleRecipients.contains) }
        let staleBeforeFreeze = staleFromB.filter { $0 < frozenAt }.count
        // For a failure's post-mortem: each stale outcome's message, its arrivals (index,
        // source) and its events.
        var dump = "frozen at arrival \(frozenAt), thawed at \(thawedAt)\n"
        for id in Set(staleIDs).sorted() {
            let events = try await engine.store.events(ofMessage: id, limit: 100)
            let recipient = events.compactMap(\.recipient).first ?? "?"
            let seen = arrivals.indices.filter { arrivals[$0].recipients.contains(recipient) }.map { "\($0)@\(arrivals[$0].clientAddress)" }
            dump += "\(id) \(recipient) arrivals: \(seen.joined(separator: " "))\n"
            for event in events {
                dump += "    \(event.time.nanoseconds) \(event.kind) \(event.via?.description ?? "-") \(event.detail ?? "")\n"
            }
        }
        try? dump.write(toFile: logs + "/stale.txt", atomically: true, encoding: .utf8)
        let wouldHave = Dictionary(stale.map { (Self.wouldHaveRecorded($0.detail), 1) }, uniquingKeysWith: +)

        // Node b stops gracefully.
        try await Self.stopsGracefully(b, named: "b", children: children, logs: logs, check: { check($0, $1, sourceLocation: $2) })
        let bLog = (try? String(contentsOfFile: logs + "/b.err", encoding: .utf8)) ?? ""
        let lostWarnings = bLog.components(separatedBy: "\n").filter { $0.contains("lost leases it still held") }.count
        let fromB = cluster.server.messages.filter { bIPs.contains($0.clientAddress) }.count

        print(String(format: "freeze: %@ duplicates=%d stale=%d run=%.1fs frozen_at=%d/%d b_sent_before=%d b_sent=%d sent_while_frozen=%d b_lost_warnings=%d stale_kinds=%@ stale_b_copy_before_freeze=%d stale_b_copy_after=%d b_leased_at_freeze=%d a_exit=%d",
                     ok ? "ok" : "FAILED", duplicates, stale.count, Double(runTime.components.seconds) + Double(runTime.components.attoseconds) / 1e18,
                     frozenAt, Self.recipients, frozenFromB, fromB, thawedAt - frozenAt, lostWarnings,
                     wouldHave.isEmpty ? "-" : wouldHave.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: ","),
                     staleBeforeFreeze, staleFromB.count - staleBeforeFreeze, bLeasedAtFreeze, a.terminationStatus))
        return ok
    }

    /// What holds once a cluster's campaign settled after a node's fault: every recipient
    /// arrived, at most `maxInFlight` of them twice; every message row ends delivered; every
    /// stale outcome is `staleNode`'s, names its message, and left it delivered. Returns the
    /// duplicates and the stale outcomes.
    static func checkSettled(_ cluster: ClusterTests.Cluster, engine: SendEngine, addresses: [String], staleNode: String, maxInFlight: Int,
                             check: (Bool, Comment, SourceLocation) -> Void,
                             sourceLocation: SourceLocation = #_sourceLocation) async throws -> (duplicates: Int, stale: [DeliveryEvent]) {
        let received = cluster.server.messages.flatMap(\.recipients)
        let duplicates = received.count - Set(received).count
        check(Set(received) == Set(addresses), "every recipient arrives (\(Set(addresses).subtracting(received).count) missing)", sourceLocation)
        check(duplicates <= maxInFlight, "\(duplicates) duplicates: more than \(staleNode)'s maxInFlight (\(maxInFlight))", sourceLocation)
        let counts = try await engine.store.counts()
        let states = Dictionary(counts.map { ($0.state, $0.count) }, uniquingKeysWith: +)
        check(states == [.delivered: addresses.count], "every message row ends delivered: \(states)", sourceLocation)
        var stale: [DeliveryEvent] = []
        var after: Int64 = 0
        while true {
            let page = try await engine.store.events(after: after, limit: 1_000)
            guard let last = page.last else { break }
            stale += page.map(\.event).filter { $0.kind == .staleOutcome }
            after = last.id
        }
        for event in stale {
            check(event.detail?.hasPrefix(staleNode + "/") == true, "a stale outcome that is not node \(staleNode)'s: \(event.detail ?? "-")", sourceLocation)
        }
        let staleIDs = stale.compactMap(\.messageID)
        check(staleIDs.count == stale.count, "every staleOutcome event names its message", sourceLocation)
        let staleRecords = try await engine.store.messages(ids: Array(Set(staleIDs)))
        check(staleRecords.count == Set(staleIDs).count && staleRecords.allSatisfy { $0.state == .delivered },
              "a stale outcome's message is no longer delivered: \(staleRecords.filter { $0.state != .delivered }.map { "\($0.id) \($0.state)" })", sourceLocation)
        return (duplicates, stale)
    }

    /// Waits (up to 120 s, while `process` runs) until the receiver has 20 messages from
    /// each node's IPs; false if it never had.
    static func bothDelivered(_ cluster: ClusterTests.Cluster, _ first: Set<String>, _ second: Set<String>, while process: SpawnedProcess) async throws -> Bool {
        let ready = ContinuousClock.now + .seconds(120)
        while ContinuousClock.now < ready, process.isRunning {
            let sources = cluster.server.messages.map(\.clientAddress)
            if sources.filter(first.contains).count >= 20, sources.filter(second.contains).count >= 20 { return true }
            try await Task.sleep(for: .milliseconds(20))
        }
        return false
    }

    /// Checks that node `name`'s `kiln campaign run` ends on its own within 240 s of
    /// `started`, exits 0, and reports every recipient delivered; returns how long it ran.
    static func campaignEnds(_ process: SpawnedProcess, named name: String, started: ContinuousClock.Instant, children: Children, logs: String,
                             check: (Bool, Comment, SourceLocation) -> Void,
                             sourceLocation: SourceLocation = #_sourceLocation) async throws -> Duration {
        let deadline = started + .seconds(240)
        while process.isRunning, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
        }
        let stalled = process.isRunning
        check(!stalled, "node \(name)'s campaign run ended within 240 s (it stalled)", sourceLocation)
        if stalled { children.kill(process) }
        let runTime = ContinuousClock.now - started
        check(process.terminationReason == .exit && process.terminationStatus == 0,
              "kiln campaign run exited \(process.terminationStatus)\(process.terminationReason == .uncaughtSignal ? " (signal)" : ""); stderr: \(tail(logs + "/\(name).err"))",
              sourceLocation)
        let report = (try? String(contentsOfFile: logs + "/\(name).out", encoding: .utf8)) ?? ""
        let (accepted, delivered, pending) = (figure("accepted", in: report), figure("delivered", in: report), figure("pending", in: report))
        check(accepted == recipients && delivered == recipients && pending == 0,
              "the report says all delivered: accepted \(accepted ?? -1), delivered \(delivered ?? -1), pending \(pending ?? -1)\n\(report)", sourceLocation)
        return runTime
    }

    /// Checks that node `name`'s `kiln run` stops within 60 s of SIGTERM and exits 0.
    static func stopsGracefully(_ process: SpawnedProcess, named name: String, children: Children, logs: String,
                                check: (Bool, Comment, SourceLocation) -> Void, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        kill(process.processIdentifier, SIGTERM)
        let stopBy = ContinuousClock.now + .seconds(60)
        while process.isRunning, ContinuousClock.now < stopBy {
            try await Task.sleep(for: .milliseconds(100))
        }
        check(!process.isRunning, "node \(name) stopped within 60 s of SIGTERM", sourceLocation)
        if process.isRunning { children.kill(process) }
        check(process.terminationReason == .exit && process.terminationStatus == 0,
              "kiln run (\(name)) exited \(process.terminationStatus); stderr: \(tail(logs + "/\(name).err"))", sourceLocation)
    }

    /// `accepted 2000` in the report: the number after `name`.
    static func figure(_ name: String, in report: String) -> Int? {
        guard let range = report.range(of: #"\b\#(name) (\d+)"#, options: .regularExpression) else { return nil }
        return Int(report[range].split(separator: " ").last ?? "")
    }

    /// `delivered` from `b/… (lease epoch 3) would have recorded delivered: 250 …`.
    static func wouldHaveRecorded(_ detail: String?) -> String {
        guard let detail, let range = detail.range(of: "would have recorded ") else { return "?" }
        return String(detail[range.upperBound...].prefix { $0.isLetter })
    }

    /// The last lines of a log file, for a failure's message.
    static func tail(_ path: String, lines: Int = 15) -> String {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        return text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }

    /// The `kiln` processes of a run, killed (SIGCONT first: a stopped one ends too) and
    /// reaped at its end whatever happened.
    final class Children: @unchecked Sendable {
        private let lock = NSLock()
        private var processes: [SpawnedProcess] = []

        /// Starts `kiln arguments`, its standard output to `output.out` and its standard
        /// error to `output.err`.
        func spawn(_ arguments: [String], output: String, environment: [String: String]) throws -> SpawnedProcess {
            let out = open(output + ".out", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            let err = open(output + ".err", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            defer {
                if out >= 0 { close(out) }
                if err >= 0 { close(err) }
            }
            guard out >= 0, err >= 0 else {
                throw NSError(domain: NSPOSIXErrorDomain, code: Int(errno), userInfo: [NSLocalizedDescriptionKey: "open \(output).out/.err"])
            }
            let process = try SpawnedProcess(kilnExecutable, arguments, environment: environment, stdout: out, stderr: err)
            lock.withLock { processes.append(process) }
            return process
        }

        func kill(_ process: SpawnedProcess) {
            if process.isRunning {
                Glibc.kill(process.processIdentifier, SIGCONT)
                Glibc.kill(process.processIdentifier, SIGKILL)
            }
            process.waitUntilExit()
        }

        func killAll() {
            for process in lock.withLock({ processes }) { kill(process) }
        }
    }
}
