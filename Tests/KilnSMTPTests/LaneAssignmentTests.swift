import KilnCore
@testable import KilnSMTP
import Testing

/// Which transfer thread runs a lane's next job. libcurl blocks a thread on each end of
/// DATA it runs (curl issue #8555), so a thread running two lanes' transfers makes them
/// wait for each other: lanes fall on different threads while there are threads enough.
@Suite struct LaneAssignmentTests {
    static func key(_ source: String, host: String = "127.0.0.1") -> TransferLoop.LaneKey {
        TransferLoop.LaneKey(SMTPJob(id: MessageID(1), destination: SMTPURL("smtp://\(host):25")!, sourceIP: source, mailFrom: "b@bounce.example.com",
                                     recipient: "u@example.org", body: [], maxConnections: 1, messagesPerConnection: 1, tls: .none))
    }

    /// The threads a lane's first `jobs` jobs go to, with the share each may open.
    static func spread(_ inbox: inout SMTPTransport.Inbox, _ key: TransferLoop.LaneKey, connections: Int, threads: Int, jobs: Int) -> [Int: Int] {
        var shares: [Int: Int] = [:]
        for _ in 0..<jobs {
            let (thread, share) = inbox.assign(key, connections: connections, threads: threads)
            #expect(shares[thread] == nil || shares[thread] == share)
            shares[thread] = share
        }
        return shares
    }

    @Test func twoLanesOfEightConnectionsTakeSixteenThreadsBetweenThem() {
        var inbox = SMTPTransport.Inbox()
        let first = Self.spread(&inbox, Self.key("127.0.0.2"), connections: 8, threads: 16, jobs: 40)
        let second = Self.spread(&inbox, Self.key("127.0.0.3"), connections: 8, threads: 16, jobs: 40)
        #expect(first.count == 8 && second.count == 8)
        #expect(Set(first.keys).isDisjoint(with: second.keys))
        #expect(first.values.reduce(0, +) == 8 && second.values.reduce(0, +) == 8)
    }

    @Test func aLaneWithMoreConnectionsThanThreadsSharesThemOut() {
        var inbox = SMTPTransport.Inbox()
        let shares = Self.spread(&inbox, Self.key("127.0.0.2"), connections: 20, threads: 8, jobs: 64)
        #expect(shares.count == 8)
        #expect(shares.values.sorted() == [2, 2, 2, 2, 3, 3, 3, 3])
    }

    @Test func singleConnectionLanesGoRoundTheThreads() {
        var inbox = SMTPTransport.Inbox()
        let threads = (0..<12).map { n in Self.spread(&inbox, Self.key("127.0.0.\(2 + n % 4)", host: "127.0.1.\(n)"), connections: 1, threads: 4, jobs: 5) }
        // Each lane stays on one thread; the 12 lanes fill the 4 threads 3 each.
        #expect(threads.allSatisfy { $0.count == 1 && $0.values.first == 1 })
        let perThread = Dictionary(grouping: threads.map { $0.keys.first! }, by: { $0 }).mapValues(\.count)
        #expect(perThread == [0: 3, 1: 3, 2: 3, 3: 3])
    }
}
