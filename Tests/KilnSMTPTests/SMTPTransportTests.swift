import Foundation
import KilnCore
import KilnSMTP
import KilnTesting
import Logging
import Synchronization
import Testing

@Suite struct SMTPTransportTests {
    /// A transport that takes the orders of the engine's reading of each reply.
    /// - Parameter laneHold: long in tests, so that a loaded machine does not outlast it.
    func transport(laneHold: Duration = .seconds(2)) -> SMTPTransport {
        SMTPTransport(options: .init(heloName: "mta.example.com", connectTimeout: .seconds(5), transferTimeout: .seconds(20),
                                     onReply: ReplyReader(laneHold: laneHold).observer),
                      logger: Logger.test())
    }

    func job(_ n: Int, _ server: LoopbackSMTPServer, recipient: String? = nil, source: String? = "127.0.0.2", perConnection: Int = 100, connections: Int = 4) -> SMTPJob {
        SMTPJob(id: MessageID(Int64(n)), destination: SMTPURL(server.url)!, sourceIP: source, mailFrom: "b+\(n)@bounce.example.com",
                recipient: recipient ?? "user\(n)@gmail.com", body: Array("Subject: m\(n)\r\n\r\n.leading dot\r\nbody \(n)\r\n".utf8),
                maxConnections: connections, messagesPerConnection: perConnection, tls: .none)
    }

    func collect(_ transport: SMTPTransport, count: Int) async -> [MessageID: SMTPResult] {
        var results: [MessageID: SMTPResult] = [:]
        for await _ in transport.resultsReady {
            for r in transport.takeResults() { results[r.id] = r }
            if results.count >= count { break }
        }
        return results
    }

    /// Every result still to come from a transport that is shutting down.
    func remainingResults(_ transport: SMTPTransport) async -> [SMTPResult] {
        var results: [SMTPResult] = []
        for await _ in transport.resultsReady { results += transport.takeResults() }
        return results + transport.takeResults()
    }

    @Test func deliversEveryMessageOnceFromTheBoundSourceAddress() async throws {
        let server = try await LoopbackSMTPServer.start()
        let transport = transport()
        transport.send((0..<50).map { job($0, server, source: $0 % 2 == 0 ? "127.0.0.2" : "127.0.0.3") })
        let results = await collect(transport, count: 50)
        await transport.shutdownGracefully()
        #expect(results.count == 50)
        #expect(results.values.allSatisfy { $0.reply?.code == 250 })
        let messages = server.messages
        #expect(messages.count == 50)
        #expect(Set(messages.map(\.mailFrom)).count == 50)
        #expect(Set(messages.map(\.clientAddress)) == ["127.0.0.2", "127.0.0.3"])
        let fromEven = messages.filter { $0.mailFrom == "b+4@bounce.example.com" }
        #expect(fromEven.first?.clientAddress == "127.0.0.2")
        // Dot-stuffing is undone at the receiver: the body arrives as sent.
        #expect(fromEven.first?.text == "Subject: m4\r\n\r\n.leading dot\r\nbody 4\r\n")
        await server.shutdown()
    }

    /// Jobs whose lease is gone never start: once the leases lapsed (not renewed for a
    /// lease time) every queued job comes back unsent, and a job marked lost does too;
    /// the others go out.
    @Test func jobsWhoseLeaseIsGoneComeBackUnsent() async throws {
        let server = try await LoopbackSMTPServer.start()
        let clock = ManualClock()
        let gate = StartGate(clock: clock)
        let transport = SMTPTransport(options: .init(heloName: "mta.example.com", connectTimeout: .seconds(5), transferTimeout: .seconds(20),
                                                     startGate: gate), logger: Logger.test())
        gate.markLost([MessageID(1)])
        transport.send([job(0, server), job(1, server)])
        var results = await collect(transport, count: 2)
        #expect(results[MessageID(0)]?.reply?.code == 250)
        #expect(results[MessageID(1)] != nil && results[MessageID(1)]?.reply == nil, "a lost lease's job must come back unsent")
        #expect(gate.lapsed == nil)
        gate.leasesValid(until: clock.uptime() + .seconds(5))
        clock.advance(by: .seconds(6))
        #expect(gate.lapsed.map { $0 >= .seconds(1) } == true, "readiness says the leases lapsed")
        transport.send((2..<6).map { job($0, server) })
        results = await collect(transport, count: 4)
        #expect(results.count == 4 && results.values.allSatisfy { $0.reply == nil }, "\(results)")
        await transport.shutdownGracefully()
        #expect(server.messages.map(\.mailFrom) == ["b+0@bounce.example.com"])
        await server.shutdown()
    }

    /// The shared relay's credentials go with the jobs that carry them: a handle reused
    /// for a job without them does not authenticate with the last job's.
    @Test func authenticatesOnlyTheJobsThatCarryCredentials() async throws {
        let server = try await LoopbackSMTPServer.start(login: .init(username: "relay-user", password: "relay-secret"))
        let transport = transport()
        func relayJob(_ n: Int, _ credentials: SMTPCredentials?) -> SMTPJob {
            var job = job(n, server, connections: 1)
            job.credentials = credentials
            return job
        }
        transport.send([relayJob(1, SMTPCredentials(username: "relay-user", password: "relay-secret"))])
        var results = await collect(transport, count: 1)
        #expect(results[MessageID(1)]?.reply?.code == 250)
        // The same lane (destination and source), so the same curl handle, without credentials.
        transport.send([relayJob(2, nil)])
        results = await collect(transport, count: 1)
        let refused = try #require(results[MessageID(2)]?.reply)
        #expect(refused.code == 530 && refused.enhancedStatus == "5.7.0")
        transport.send([relayJob(3, SMTPCredentials(username: "relay-user", password: "wrong"))])
        results = await collect(transport, count: 1)
        let wrong = try #require(results[MessageID(3)]?.reply)
        #expect(wrong.code == 535 && wrong.enhancedStatus == "5.7.8")
        transport.send([relayJob(4, SMTPCredentials(username: "relay-user", password: "relay-secret"))])
        results = await collect(transport, count: 1)
        #expect(results[MessageID(4)]?.reply?.code == 250)
        await transport.shutdownGracefully()
        #expect(server.messages.map(\.mailFrom) == ["b+1@bounce.example.com", "b+4@bounce.example.com"])
        #expect(server.messages.allSatisfy { $0.authenticatedAs == "relay-user" })
        await server.shutdown()
    }

    @Test func capturesTheRejectingReplyWithItsEnhancedStatus() async throws {
        let server = try await LoopbackSMTPServer.start { command in
            if case .recipient(let address) = command.kind, address.hasPrefix("nobody") {
                return SMTPReply(code: 550, enhancedStatus: "5.1.1", text: "The email account that you tried to reach does not exist.")
            }
            if case .message = command.kind, command.messagesTotal == 0 {
                return SMTPReply(code: 421, enhancedStatus: "4.7.28", text: "line one\nunusual rate of unsolicited mail")
            }
            return nil
        }
        let transport = transport()
        transport.send([job(1, server, recipient: "nobody@gmail.com")])
        var results = await collect(transport, count: 1)
        let bounce = try #require(results[MessageID(1)]?.reply)
        #expect(bounce.code == 550 && bounce.enhancedStatus == "5.1.1")
        #expect(bounce.text.contains("does not exist"))
        #expect(bounce.classification.replyClass == .permanentUser)

        transport.send([job(2, server)])
        results = await collect(transport, count: 1)
        let throttle = try #require(results[MessageID(2)]?.reply)
        #expect(throttle.code == 421 && throttle.enhancedStatus == "4.7.28")
        #expect(throttle.text == "line one unusual rate of unsolicited mail")
        #expect(throttle.classification.replyClass == .throttle)
        await transport.shutdownGracefully()
        #expect(server.messages.isEmpty)
        await server.shutdown()
    }

    @Test func aRefusedConnectionIsALocalTemporaryReply() async throws {
        let server = try await LoopbackSMTPServer.start()
        let url = server.url
        await server.shutdown()
        let transport = transport()
        transport.send([SMTPJob(id: MessageID(9), destination: SMTPURL(url)!, sourceIP: nil, mailFrom: "a@example.com", recipient: "b@gmail.com", body: Array("x\r\n".utf8), tls: .none)])
        let results = await collect(transport, count: 1)
        let reply = try #require(results[MessageID(9)]?.reply)
        #expect(reply.isLocal)
        #expect(reply.enhancedStatus == "4.4.1")
        #expect(reply.classification.replyClass == .temporary)
        await transport.shutdownGracefully()
    }

    @Test func connectionsAreReusedUpToTheirMessageLimit() async throws {
        let server = try await LoopbackSMTPServer.start()
        let transport = transport()
        transport.send((0..<40).map { job($0, server, perConnection: 10, connections: 1) })
        _ = await collect(transport, count: 40)
        await transport.shutdownGracefully()
        #expect(server.messages.count == 40)
        // One connection at a time, ten messages each.
        #expect(server.connectionCount == 4)
        await server.shutdown()
    }

    @Test func shutdownReturnsJobsThatNeverStarted() async throws {
        // The first message's end of DATA is answered only once the shutdown has begun.
        let held = HeldEndOfData(firstOnly: true)
        let server = try await held.start()
        let transport = transport()
        transport.send((0..<30).map { job($0, server, connections: 1) })
        try await held.waitUntilHeld()
        transport.beginShutdown()
        held.release()
        await transport.shutdownGracefully()
        let results = await remainingResults(transport)
        #expect(results.count == 30)
        // The one under way finishes; the 29 waiting on its lane never start.
        #expect(results.filter { $0.reply?.code == 250 }.count == 1)
        #expect(results.filter { $0.reply == nil }.count == 29)
        #expect(server.messages.count == 1)
        await server.shutdown()
    }

    /// Each result says how long its transfer took (what the transfer-duration histogram
    /// and the attempt's log line report): here at least the receiver's 50 ms at the end
    /// of DATA.
    @Test func aResultCarriesItsTransfersDuration() async throws {
        let server = try await LoopbackSMTPServer.start { command in
            if case .message = command.kind { usleep(50_000) }
            return nil
        }
        let transport = transport()
        transport.send([job(1, server)])
        let result = try #require(await collect(transport, count: 1)[MessageID(1)])
        #expect(result.reply?.code == 250)
        let duration = try #require(result.duration)
        #expect(duration >= .milliseconds(50) && duration < .seconds(20), "\(duration)")
        await transport.shutdownGracefully()
        await server.shutdown()
    }

    /// A graceful shutdown out of time (its task cancelled) cuts off the transfers still
    /// waiting for the end of DATA's reply: they come back unsent (nil reply), not
    /// with the 250 the receiver gives only once released.
    @Test func aCancelledShutdownCutsOffRunningTransfersAndReturnsTheirJobs() async throws {
        let held = HeldEndOfData(firstOnly: false)
        let server = try await held.start()
        let transport = transport()
        transport.send((0..<3).map { job($0, server, connections: 1) })
        // The first message's data is out and its reply held back.
        try await held.waitUntilHeld()
        let shutdown = Task { await transport.shutdownGracefully() }
        shutdown.cancel()
        await shutdown.value
        let results = await remainingResults(transport)
        held.release()
        #expect(results.count == 3)
        #expect(results.allSatisfy { $0.reply == nil }, "\(results.map { $0.reply.map { "\($0)" } ?? "nil" })")
        #expect(transport.inFlight == 0)
        await server.shutdown()
    }

    /// A throttle withdraws its lane: what waits behind it comes back unsent (the reply
    /// read once, as it arrived, and the orders carried out at once), and a job that
    /// reaches the lane just after is held back too.
    @Test func aThrottleWithdrawsItsLaneAndHoldsItBriefly() async throws {
        let server = try await LoopbackSMTPServer.start { command in
            if case .mailFrom = command.kind, command.clientAddress == "127.0.0.2" {
                return SMTPReply(parsing: ProviderReplies.gmailThrottle)
            }
            return nil
        }
        let transport = transport(laneHold: .seconds(120))
        transport.send((0..<10).map { job($0, server, connections: 1) })
        let first = await collect(transport, count: 10)
        let replied = first.values.filter { $0.reply != nil }
        #expect(replied.count == 1)
        let reading = try #require(replied.first?.reply.map { ReplyReader().read($0, provider: nil).classification })
        #expect(reading.replyClass == .throttle && reading.scope == .ip)
        #expect(first.values.filter { $0.reply == nil }.count == 9)
        // Routed before the engine learned of the throttle: held back, not sent.
        transport.send([job(10, server, connections: 1)])
        let late = await collect(transport, count: 1)
        #expect(late[MessageID(10)]?.reply == nil)
        // Another source address is not held.
        transport.send([job(11, server, source: "127.0.0.3", connections: 1)])
        let other = await collect(transport, count: 1)
        #expect(other[MessageID(11)]?.reply?.code == 250)
        await transport.shutdownGracefully()
        #expect(server.messages.count == 1)
        await server.shutdown()
    }
}

/// A receiver that holds the end of DATA (the first one, or every one) until released, up
/// to 20 s: a transfer stays under way for as long as a test needs.
final class HeldEndOfData: Sendable {
    let firstOnly: Bool
    private let arrived = Atomic<Bool>(false)
    private let gate = DispatchSemaphore(value: 0)

    init(firstOnly: Bool) { self.firstOnly = firstOnly }

    func start() async throws -> LoopbackSMTPServer {
        try await LoopbackSMTPServer.start { [self] command in
            if case .message = command.kind, !(firstOnly && arrived.load(ordering: .relaxed)) {
                arrived.store(true, ordering: .relaxed)
                _ = gate.wait(timeout: .now() + 20)
            }
            return nil
        }
    }

    /// Returns once a message's data has arrived and its reply is held.
    func waitUntilHeld() async throws {
        while !arrived.load(ordering: .relaxed) { try await Task.sleep(for: .milliseconds(10)) }
    }

    func release() { gate.signal() }
}
