import Foundation
import KilnCore
import KilnSMTP
import KilnTesting
import Logging
import Synchronization
import Testing

/// The transport reads no reply: it reports what happened and carries out the orders it
/// is given for a lane. `FakeTransport` takes the same orders the same way.
@Suite struct LaneOrderTests {
    let jobs = SMTPTransportTests()

    func transport(onReply: ReplyObserver?) -> SMTPTransport {
        SMTPTransport(options: .init(heloName: "mta.example.com", connectTimeout: .seconds(5), transferTimeout: .seconds(20), onReply: onReply),
                      logger: Logger.test())
    }

    /// Results from any transport until `count` have come.
    func collect(_ transport: any MailTransport, count: Int) async -> [MessageID: SMTPResult] {
        var results: [MessageID: SMTPResult] = [:]
        for r in transport.takeResults() { results[r.id] = r }
        if results.count >= count { return results }
        for await _ in transport.resultsReady {
            for r in transport.takeResults() { results[r.id] = r }
            if results.count >= count { break }
        }
        return results
    }

    /// With no one to give orders, a throttle withdraws nothing: every job is tried and
    /// comes back with the receiver's reply, its place on the connection and its curl result.
    @Test func withoutOrdersAThrottleWithdrawsNothing() async throws {
        let server = try await LoopbackSMTPServer.start { command in
            if case .mailFrom = command.kind { return SMTPReply(parsing: ProviderReplies.gmailThrottle) }
            return nil
        }
        let transport = transport(onReply: nil)
        transport.send((0..<5).map { jobs.job($0, server, connections: 1) })
        let results = await collect(transport, count: 5)
        await transport.shutdownGracefully()
        #expect(results.values.allSatisfy { $0.reply?.code == 421 })
        #expect(results.values.allSatisfy { $0.curlCode != nil && $0.curlCode != 0 && $0.messagesOnConnection != nil })
        await server.shutdown()
    }

    /// A withdraw order gives back what waits on the lane, unsent, whatever the reply
    /// (here a 250): the transport does not judge the reply. Nothing holds the lane after.
    @Test func aWithdrawOrderReturnsTheLanesQueuedJobsUnsent() async throws {
        let server = try await LoopbackSMTPServer.start()
        let told = Mutex<[MessageID]>([])
        let transport = transport(onReply: { result in
            told.withLock { $0.append(result.id) }
            return result.id == MessageID(0) ? [.withdraw] : []
        })
        transport.send((0..<10).map { jobs.job($0, server, connections: 1) })
        let results = await collect(transport, count: 10)
        #expect(results[MessageID(0)]?.reply?.code == 250)
        #expect(results.values.filter { $0.reply == nil }.count == 9)
        // Only a result with a reply is reported to the observer.
        #expect(told.withLock { $0 } == [MessageID(0)])
        transport.send([jobs.job(10, server, connections: 1)])
        #expect(await collect(transport, count: 1)[MessageID(10)]?.reply?.code == 250)
        await transport.shutdownGracefully()
        #expect(server.messages.count == 2)
        await server.shutdown()
    }

    /// An order given from outside, after the fact (a behavioural signal the engine found
    /// when it recorded a result), withdraws the lane on its thread as one given with the
    /// reply does: what waits behind the transfer under way comes back unsent.
    @Test func anOrderGivenAfterTheFactWithdrawsTheLane() async throws {
        let arrived = Atomic(false)
        let gate = DispatchSemaphore(value: 0)
        let server = try await LoopbackSMTPServer.start { command in
            if case .recipient(let address) = command.kind, address.hasPrefix("user0@") {
                arrived.store(true, ordering: .relaxed)
                gate.wait()
            }
            return nil
        }
        let transport = transport(onReply: nil)
        transport.send((0..<10).map { jobs.job($0, server, connections: 1) })
        let deadline = ContinuousClock.now + .seconds(60)
        while !arrived.load(ordering: .relaxed), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        transport.obey([.withdraw], laneOf: SMTPResult(jobs.job(0, server, connections: 1), reply: nil))
        gate.signal()
        let results = await collect(transport, count: 10)
        await transport.shutdownGracefully()
        #expect(results[MessageID(0)]?.reply?.code == 250)
        #expect(results.values.filter { $0.reply == nil }.count == 9, "\(results.values.map { $0.reply?.code ?? 0 })")
        #expect(server.messages.count == 1)
        await server.shutdown()
    }

    /// A cap order closes the lane's connections after that many messages, and the handle
    /// the reply came on starts its next message on a fresh connection. (curl may still
    /// reuse the connection it left in its cache for one message more.)
    @Test func aCapOrderClosesTheLanesConnectionsAfterThatMany() async throws {
        let server = try await LoopbackSMTPServer.start()
        let transport = transport(onReply: { result in result.id == MessageID(0) ? [.capMessagesPerConnection(2)] : [] })
        transport.send((0..<9).map { jobs.job($0, server, perConnection: 100, connections: 1) })
        let results = await collect(transport, count: 9)
        await transport.shutdownGracefully()
        #expect(results.values.allSatisfy { $0.reply?.code == 250 })
        #expect(server.messages.count == 9)
        // Without the order, one connection would carry all nine; with it, one message on
        // the first, then two on each of the next (one of them possibly the first again).
        #expect(server.connectionCount >= 4)
        await server.shutdown()
    }

    /// Every reply is reported, also one the transport makes up for an envelope it refuses
    /// to send (read once by the built-in table alone until now, so an operator rule never
    /// saw it): read by an operator rule as a throttle, it withdraws and holds its lane.
    @Test(arguments: [true, false])
    func anEnvelopeRefusalIsReadWithTheOperatorRules(ruled: Bool) async throws {
        let server = try await LoopbackSMTPServer.start()
        let rule = try OperatorReplyRule(id: "replyRules[0]", provider: nil, match: "refused envelope recipient", action: .throttle)
        let reader = ReplyReader(classifier: ReplyClassifier(operatorRules: ruled ? [rule] : []), laneHold: .seconds(120))
        let transport = transport(onReply: reader.observer)
        transport.send([jobs.job(0, server, recipient: "a@gmail.com\r\nRSET", connections: 1)] + (1..<4).map { jobs.job($0, server, connections: 1) })
        let results = await collect(transport, count: 4)
        await transport.shutdownGracefully()
        let refusal = try #require(results[MessageID(0)]?.reply)
        #expect(refusal.code == 553 && refusal.isLocal)
        #expect(reader.read(refusal, provider: nil).classification.replyClass == (ruled ? .throttle : .permanentUser))
        let sent = (1..<4).filter { results[MessageID(Int64($0))]?.reply?.code == 250 }.count
        #expect(sent == (ruled ? 0 : 3))
        #expect(server.messages.count == sent)
        await server.shutdown()
    }

    /// The same script, the same jobs and the same orders (the engine's reading of each
    /// reply): `SMTPTransport` over loopback and `FakeTransport` come back alike. A
    /// throttle withdraws and holds its lane; another source address is not held.
    @Test(arguments: [false, true])
    func bothTransportsObeyTheSameOrders(fake: Bool) async throws {
        let script: LoopbackSMTPServer.Script = { command in
            if case .mailFrom = command.kind, command.clientAddress == "127.0.0.2" {
                return SMTPReply(parsing: ProviderReplies.gmailThrottle)
            }
            return nil
        }
        let options = SMTPTransport.Options(heloName: "mta.example.com", connectTimeout: .seconds(5), transferTimeout: .seconds(20),
                                            onReply: ReplyReader(laneHold: .seconds(120)).observer)
        let server = try await LoopbackSMTPServer.start(script: script)
        let network = FakeNetwork(script: script)
        let transport: any MailTransport = fake ? network.transport(options: options, logger: Logger.test())
                                                : SMTPTransport(options: options, logger: Logger.test())
        transport.send((0..<6).map { jobs.job($0, server, connections: 1) } + [jobs.job(6, server, source: "127.0.0.3", connections: 1)])
        let first = await collect(transport, count: 7)
        #expect(first[MessageID(0)]?.reply?.code == 421)
        #expect((1..<6).allSatisfy { first[MessageID(Int64($0))] != nil && first[MessageID(Int64($0))]?.reply == nil })
        #expect(first[MessageID(6)]?.reply?.code == 250)
        // Held: a job that reaches the lane after the throttle comes back unsent.
        transport.send([jobs.job(7, server, connections: 1)])
        #expect(await collect(transport, count: 1)[MessageID(7)].map { $0.reply == nil } == true)
        await transport.shutdownGracefully()
        let accepted = fake ? network.messages : server.messages
        #expect(accepted.map(\.clientAddress) == ["127.0.0.3"])
        await server.shutdown()
    }
}
