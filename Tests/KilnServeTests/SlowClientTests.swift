import Foundation
import Hummingbird
import Glibc
import Kiln
import KilnMessage
import KilnServe
import KilnTesting
import Logging
import Testing

/// A flood of idle connections neither blocks a real unsubscribe nor stays open past the
/// header timeout.
@Suite struct SlowClientTests {
    /// Opens a TCP connection to the port on loopback that sends nothing.
    static func idleConnection(port: Int) throws -> Int32 {
        try HTTP.connection(port: port)
    }

    /// Whether the server has closed the connection (end of file, or reset).
    static func isClosed(_ fd: Int32) -> Bool {
        var byte: UInt8 = 0
        let n = recv(fd, &byte, 1, Int32(MSG_DONTWAIT))
        return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
    }

    /// The POST must be answered while the flood is still open: the last connections
    /// opened before it are still open when the answer comes, so it was served beside
    /// them, not after they timed out. Measured on the server's own timeouts rather than
    /// against a fixed time, which a loaded machine (the whole suite beside it) overran.
    @Test(arguments: [(1100, 6.0)])
    func aRealUnsubscribeIsAnsweredDuringASlowClientFlood(idle: Int, headerTimeout: Double) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-flood-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let engine = try UnsubscribeEndpointTests().engine(in: directory)
        let router = Hummingbird.Router()
        UnsubscribeEndpoint(engine: engine).addRoutes(to: router, path: "/u")
        // Also raises this process's open-file limit, so that both ends of 1,100 connections fit.
        let limits = UnsubscribeServerLimits(headerTimeout: .seconds(headerTimeout)).fittingOpenFileLimit()
        #expect(limits.maxConnections > idle)
        let (port, server) = try await HTTP.serve(router, limits: limits)
        defer { server.cancel() }

        let opened = ContinuousClock.now
        let sockets = try await onOwnThread {
            var sockets: [Int32] = []
            do {
                for _ in 0..<idle { sockets.append(try Self.idleConnection(port: port)) }
            } catch {
                for fd in sockets { close(fd) }
                throw error
            }
            return sockets
        }
        defer { for fd in sockets { close(fd) } }

        let token = UnsubscribeToken(recipient: "ann@example.net", list: "news", campaign: "c").make(secret: Array(UnsubscribeEndpointTests.secret.utf8))
        let asked = ContinuousClock.now
        let answer = try await HTTP.request(port: port, "POST", "/u?t=\(token)", body: "List-Unsubscribe=One-Click")
        let took = ContinuousClock.now - asked
        let recent = sockets.suffix(100)
        let stillOpen = recent.filter { !Self.isClosed($0) }.count
        #expect(answer.status == 200)
        #expect(stillOpen > recent.count / 2, "the one-click POST took \(took); only \(stillOpen) of the last \(recent.count) idle connections were still open")
        #expect(try await engine.store.suppression(of: "ann@example.net", scope: "news") != nil)

        // Every idle connection is closed once the header timeout has passed: 6 s after the first opened when this suite
        // runs alone; the margin is for a run beside suites that block the cooperative pool (the CLI tests), which
        // delays the server's accepting, not its timeout.
        var open = sockets
        while !open.isEmpty, ContinuousClock.now - opened < .seconds(headerTimeout * 30) {
            try await Task.sleep(for: .milliseconds(100))
            open.removeAll(where: Self.isClosed)
        }
        #expect(open.isEmpty, "\(open.count) idle connections still open")
        print("all \(idle) idle connections closed \(ContinuousClock.now - opened) after the first opened; the POST took \(took)")
        #expect(ContinuousClock.now - opened > .seconds(headerTimeout * 0.9))
    }
}
