import Foundation
import KilnCore
import KilnSMTP
import KilnTesting
import Logging
import Synchronization
import Testing

/// The transport's bookkeeping under everything at once, on eight threads: throttles that
/// hold lanes on every thread (and the engine sending the withdrawn jobs again), refused
/// recipients, a host that refuses connections and one that refuses at the greeting (both
/// passed over for the next hop), four source addresses. Every job handed over must come
/// back exactly once: a job lost in the transport leaves its message leased for ever.
@Suite struct TransportStressTests {
    @Test(arguments: [1, 8, 32]) func everyJobComesBackExactlyOnce(threads: Int) async throws {
        let mailCommands = Atomic<Int>(0)
        @Sendable func number(_ recipient: String) -> Int { Int(recipient.filter(\.isNumber)) ?? 0 }
        let servers = try await LoopbackHosts.smtpServers([
            { command in
                switch command.kind {
                case .mailFrom:
                    // Every 50th transaction is throttled: its lane is held and withdrawn.
                    if mailCommands.add(1, ordering: .relaxed).newValue % 50 == 0 { return SMTPReply(parsing: ProviderReplies.gmailThrottle) }
                case .recipient(let recipient) where number(recipient) % 29 == 0:
                    return SMTPReply(parsing: ProviderReplies.gmailUserUnknown)
                case .message where command.messagesOnConnection % 7 == 6:
                    // A temporary failure of the message alone (greylisting): no lane is withdrawn.
                    return SMTPReply(code: 451, enhancedStatus: "4.7.1", text: "Greylisted, try again later")
                default: break
                }
                return nil
            },
            { command in command.kind == .connect ? SMTPReply(code: 554, text: "no service here") : nil },
        ])
        let (accepting, refusing) = (servers[0], servers[1])
        // A port that refuses connections: a listener closed at once.
        let closed = try SilentListener(host: accepting.host)
        closed.stop()
        let refused = SMTPHop(url: SMTPURL("smtp://\(accepting.host):\(closed.port)")!)
        let transport = SMTPTransport(options: .init(heloName: "mta.example.com", connectTimeout: .seconds(5), transferTimeout: .seconds(20),
                                                     downHold: .milliseconds(200), onReply: ReplyReader(laneHold: .milliseconds(50)).observer,
                                                     transferThreads: threads),
                                      logger: Logger.test())
        let sources = ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"]
        var jobs: [MessageID: SMTPJob] = [:]
        for n in 0..<2_000 {
            var job = SMTPJob(id: MessageID(Int64(n)), destination: SMTPURL(accepting.url)!, sourceIP: sources[n % sources.count],
                              mailFrom: "b+\(n)@bounce.example.com", recipient: "u\(n)@gmail.com",
                              body: Array("Subject: m\(n)\r\n\r\nbody \(n)\r\n".utf8), maxConnections: 1 + n % 5, messagesPerConnection: 20,
                              tls: .none, provider: .gmail)
            let direct = SMTPHop(url: SMTPURL(accepting.url)!)
            switch n % 20 {
            case 0, 1, 2: job.route(to: [refused, direct])
            case 3, 4: job.route(to: [SMTPHop(url: SMTPURL(refusing.url)!), direct])
            case 5: job.route(to: [refused])
            default: break
            }
            jobs[job.id] = job
        }
        transport.send(Array(jobs.values))
        var outstanding = jobs.count
        var sends = [MessageID: Int]()
        var final = [MessageID: SMTPReply]()
        let deadline = ContinuousClock.now + .seconds(180)
        while outstanding > 0 && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
            var again: [SMTPJob] = []
            for result in transport.takeResults() {
                outstanding -= 1
                #expect(final[result.id] == nil, "message \(result.id) came back after its final reply")
                guard let reply = result.reply else {
                    // Withdrawn or held: the engine sends it again (a new lease).
                    sends[result.id, default: 0] += 1
                    if sends[result.id]! < 200 { again.append(jobs[result.id]!) } else { final[result.id] = SMTPReply(code: 0, text: "gave up") }
                    continue
                }
                final[result.id] = reply
            }
            outstanding += again.count
            transport.send(again)
        }
        let missing = Set(jobs.keys).subtracting(final.keys)
        #expect(missing.isEmpty, "\(missing.count) jobs never came back, e.g. \(missing.sorted().prefix(10).map { "\($0)" })")
        #expect(transport.inFlight == 0)
        // Every 250 is a message the receiver holds, and nothing else arrived.
        let delivered = final.values.filter { $0.code == 250 }.count
        #expect(delivered == accepting.messages.count)
        #expect(delivered > 1_000)
        #expect(refusing.messages.isEmpty)
        // Jobs routed only to the refused port come back with a local "no connection".
        #expect(jobs.values.filter { $0.hops.count == 1 && $0.destination.port == closed.port }.allSatisfy { final[$0.id]?.code == 421 })
        await transport.shutdownGracefully()
        for server in servers { await server.shutdown() }
    }
}
