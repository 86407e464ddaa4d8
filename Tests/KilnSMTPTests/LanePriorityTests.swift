import Foundation
import KilnCore
import KilnSMTP
import KilnTesting
import Logging
import Testing

/// A transactional job starts ahead of the bulk already waiting on its lane.
@Suite struct LanePriorityTests {
    @Test func aPriorityJobOvertakesTheLaneBacklog() async throws {
        // 20 ms a message, one connection: the 40 bulk jobs queue on the lane.
        let server = try await LoopbackSMTPServer.start { command in
            if case .message = command.kind { usleep(20_000) }
            return nil
        }
        let transport = SMTPTransport(options: .init(heloName: "mta.example.com", connectTimeout: .seconds(5), transferTimeout: .seconds(20)),
                                      logger: Logger.test())
        func job(_ n: Int, priority: Int) -> SMTPJob {
            SMTPJob(id: MessageID(Int64(n)), destination: SMTPURL(server.url)!, sourceIP: "127.0.0.2", mailFrom: "b+\(n)@bounce.example.com",
                    recipient: "user\(n)@gmail.com", body: Array("Subject: \(n)\r\n\r\nbody\r\n".utf8), maxConnections: 1, tls: .none, priority: priority)
        }
        transport.send((0..<40).map { job($0, priority: 0) })
        transport.send([job(100, priority: 1), job(101, priority: 1)])
        var done = 0
        for await _ in transport.resultsReady {
            done += transport.takeResults().count
            if done >= 42 { break }
        }
        await transport.shutdownGracefully()
        let order = server.messages.map(\.mailFrom)
        #expect(order.count == 42)
        // At most the transfers already under way go before them; they keep their order.
        let first = try #require(order.firstIndex(of: "b+100@bounce.example.com"))
        #expect(first <= 4)
        #expect(order[first + 1] == "b+101@bounce.example.com")
        await server.shutdown()
    }
}
