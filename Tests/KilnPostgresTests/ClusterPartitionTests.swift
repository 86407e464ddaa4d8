import Foundation
import Kiln
import KilnCore
import KilnStore
import KilnTesting
import Testing

/// A node cut off from PostgreSQL for three lease times in the middle of a campaign, then
/// reconnected: node a (`kiln run --node a --listen`) reaches the database only through a
/// `PartitionProxy`, which stops passing bytes without closing anything, as a dropped
/// network does. While it is cut, a's `/readyz` answers 503 and says why, a starts no
/// transfer, and node b (running the campaign) takes a's leases over once they expire.
/// Healed, a's late outcomes are kept as `staleOutcome` events that change nothing, the
/// campaign ends on its own with every message delivered, and a becomes ready again. One
/// line starting `partition:` sums the run up.
@Suite(.enabled(if: PostgresTestServer.enabled, "set KILN_TEST_POSTGRES_URL (make test does)"), .serialized)
struct ClusterPartitionTests {
    static let leaseSeconds = ClusterFreezeTests.leaseSeconds
    static let maxInFlight = ClusterFreezeTests.maxInFlight
    static let recipients = ClusterFreezeTests.recipients

    @Test func aNodeCutOffFromTheDatabaseForThreeLeaseTimesChangesNothingWhenItReconnects() async throws {
        let cluster = try await ClusterTests.Cluster(hourlyPerIP: ClusterFreezeTests.hourlyPerIP, leaseSeconds: Self.leaseSeconds, maxInFlight: Self.maxInFlight)
        let proxy = try PartitionProxy(toPort: cluster.db.settings.port)
        let logs = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-partition-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: logs, withIntermediateDirectories: true)
        let children = ClusterFreezeTests.Children()
        defer { children.killAll() }
        var passed = false
        do {
            passed = try await scenario(cluster, proxy: proxy, children: children, logs: logs)
        } catch {
            children.killAll()
            print("partition: error \(error); logs kept in \(logs)")
            await proxy.stop()
            await cluster.finish()
            throw error
        }
        children.killAll()
        if passed {
            try? FileManager.default.removeItem(atPath: logs)
        } else {
            print("partition: logs kept in \(logs)")
        }
        await proxy.stop()
        await cluster.finish()
    }

    /// Node a's configuration: the cluster's, its store reached through the proxy.
    static func configurationThroughProxy(_ cluster: ClusterTests.Cluster, proxy: PartitionProxy) throws -> String {
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: cluster.config))) as! [String: Any]
        var store = json["store"] as! [String: Any]
        store["url"] = "postgres://\(cluster.db.settings.username)@\(proxy.host):\(proxy.port)/\(cluster.db.settings.database)"
        json["store"] = store
        let path = cluster.directory + "/kiln-a.json"
        try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: path))
        return path
    }

    func scenario(_ cluster: ClusterTests.Cluster, proxy: PartitionProxy, children: ClusterFreezeTests.Children, logs: String) async throws -> Bool {
        var ok = true
        func check(_ condition: Bool, _ comment: Comment, sourceLocation: SourceLocation = #_sourceLocation) {
            #expect(condition, comment, sourceLocation: sourceLocation)
            if !condition { ok = false }
        }
        let lease = Double(Self.leaseSeconds)
        let (list, _, addresses) = try cluster.writeCampaign(Self.recipients)
        let aIPs = Set(ClusterTests.nodeIPs["a"]!), bIPs = Set(ClusterTests.nodeIPs["b"]!)
        let port = try freeLoopbackPort()
        let readyz = "http://127.0.0.1:\(port)/readyz"

        // Node a delivers (and serves /readyz) through the proxy; node b runs the campaign.
        let a = try children.spawn(["run", "--config", try Self.configurationThroughProxy(cluster, proxy: proxy), "--node", "a",
                                    "--listen", "127.0.0.1:\(port)"],
                                   output: logs + "/a", environment: ClusterTests.Cluster.environment)
        let started = ContinuousClock.now
        let b = try children.spawn(["campaign", "run", "--config", cluster.config, "--node", "b", "--recipients", list,
                                    "--template", cluster.directory + "/template.json", "--campaign", "p1"],
                                   output: logs + "/b", environment: ClusterTests.Cluster.environment)

        let underWay = try await ClusterFreezeTests.bothDelivered(cluster, aIPs, bIPs, while: b)
        check(underWay, "both nodes delivered before the cut; a: \(ClusterFreezeTests.tail(logs + "/a.err")); b: \(ClusterFreezeTests.tail(logs + "/b.err"))")
        guard underWay else { return false }
        let readyBefore = await httpGet(readyz)
        check(readyBefore.status == 200, "a was ready before the cut: \(readyBefore)")

        // Cut for three lease times: a's queries hang unanswered, its leases lapse, b takes
        // them over. Meanwhile a's /readyz is polled, and what a sends is counted.
        proxy.cut()
        let cutAt = cluster.server.messages.count
        let fromABeforeCut = cluster.server.messages.filter { aIPs.contains($0.clientAddress) }.count
        let healAt = ContinuousClock.now + .seconds(3 * lease)
        var notReady: [String] = []
        var fromAAfterLapse: Int?
        let lapseAt = ContinuousClock.now + .seconds(lease + 2)
        while ContinuousClock.now < healAt {
            let answer = await httpGet(readyz)
            if answer.status == 503 { notReady.append(answer.body) }
            if fromAAfterLapse == nil, ContinuousClock.now >= lapseAt {
                fromAAfterLapse = cluster.server.messages.filter { aIPs.contains($0.clientAddress) }.count
            }
            try await Task.sleep(for: .milliseconds(250))
        }
        let fromAAtHeal = cluster.server.messages.filter { aIPs.contains($0.clientAddress) }.count
        proxy.heal()
        check(!notReady.isEmpty, "a's /readyz answered 503 while it was cut off")
        check(notReady.contains { $0.contains("leases lapsed") || $0.contains("store unavailable") }, "a's /readyz said why: \(Set(notReady))")
        // Once its leases lapsed (a lease time after the cut, give or take a heartbeat), a
        // starts nothing new: what it sends after is only what was already with the receiver.
        let sentAfterLapse = fromAAtHeal - (fromAAfterLapse ?? fromAAtHeal)
        check(sentAfterLapse <= 2, "a sent \(sentAfterLapse) messages after its leases lapsed")

        // b's campaign ends on its own with every message delivered.
        let runTime = try await ClusterFreezeTests.campaignEnds(b, named: "b", started: started, children: children, logs: logs,
                                                                check: { check($0, $1, sourceLocation: $2) })

        // a answers again and becomes ready once it has reconnected and renewed.
        var readyAfter = (status: 0, body: "")
        let readyBy = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < readyBy {
            readyAfter = await httpGet(readyz)
            if readyAfter.status == 200 { break }
            try await Task.sleep(for: .milliseconds(250))
        }
        check(readyAfter.status == 200, "a was ready again after the heal: \(readyAfter)")

        let observer = try cluster.engine(node: nil)
        let (duplicates, stale) = try await ClusterFreezeTests.checkSettled(cluster, engine: observer, addresses: addresses, staleNode: "a",
                                                                            maxInFlight: Self.maxInFlight, check: { check($0, $1, sourceLocation: $2) })

        // Node a stops gracefully.
        try await ClusterFreezeTests.stopsGracefully(a, named: "a", children: children, logs: logs, check: { check($0, $1, sourceLocation: $2) })
        let reasons = Set(notReady.map { $0.prefix { $0 != ":" } })
        print(String(format: "partition: %@ duplicates=%d stale=%d run=%.1fs cut_at=%d/%d a_sent_before=%d a_sent_after_lapse=%d not_ready_polls=%d reasons=%@ proxy_connections=%d",
                     ok ? "ok" : "FAILED", duplicates, stale.count,
                     Double(runTime.components.seconds) + Double(runTime.components.attoseconds) / 1e18,
                     cutAt, Self.recipients, fromABeforeCut, sentAfterLapse, notReady.count,
                     reasons.sorted().joined(separator: ",").replacingOccurrences(of: " ", with: "_"), proxy.connections.load(ordering: .relaxed)))
        return ok
    }
}
