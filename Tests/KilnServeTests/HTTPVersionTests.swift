import Foundation
import Hummingbird
import KilnServe
import KilnTesting
import Logging
import Synchronization
import Testing

/// HTTP/1.0 clients are answered in HTTP/1.0, and closed unless they asked for keep-alive.
@Suite struct HTTPVersionTests {
    /// A server with one route, `/ping`, and the limits every Kiln HTTP server uses. The
    /// header timeout is long so that only the version rule can close a connection here.
    func withServer(_ body: @Sendable (Int) async throws -> Void) async throws {
        let router = Hummingbird.Router()
        router.get("/ping") { _, _ in "pong" }
        let (port, server) = try await HTTP.serve(router, limits: UnsubscribeServerLimits(headerTimeout: .seconds(120)))
        defer { server.cancel() }
        try await body(port)
    }

    @Test func anHTTP10RequestIsAnsweredInHTTP10AndClosed() async throws {
        try await withServer { port in
            let answer = try await onOwnThread { try HTTP.exchange(port: port, "GET /ping HTTP/1.0\r\n") }
            #expect(answer.statusLine == "HTTP/1.0 200 OK")
            #expect(answer.body == "pong")
            #expect(answer.closedByServer, "an HTTP/1.0 request without keep-alive must be answered, then closed")
        }
    }

    @Test func keepAliveIsKeptForHTTP10WhenAskedAndForHTTP11() async throws {
        try await withServer { port in
            let old = try await onOwnThread { try HTTP.exchange(port: port, "GET /ping HTTP/1.0\r\nConnection: keep-alive\r\n", wait: 2) }
            #expect(old.statusLine == "HTTP/1.0 200 OK")
            #expect(!old.closedByServer)
            let current = try await onOwnThread { try HTTP.exchange(port: port, "GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\n", wait: 2) }
            #expect(current.statusLine == "HTTP/1.1 200 OK")
            #expect(!current.closedByServer)
        }
    }
}

/// The shutdown watchdog ends the process once, when the shutdown outlasts its limit.
@Suite struct ShutdownWatchdogTests {
    @Test func itEndsTheProcessOnceAfterItsLimit() async throws {
        let ended = Atomic<Int>(0)
        let watchdog = ShutdownWatchdog(limit: .milliseconds(50), logger: Logger.test()) { ended.add(1, ordering: .relaxed) }
        #expect(ended.load(ordering: .relaxed) == 0)
        watchdog.shutdownBegan()
        watchdog.shutdownBegan()
        let deadline = ContinuousClock.now + .seconds(30)
        while ended.load(ordering: .relaxed) == 0, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        try await Task.sleep(for: .milliseconds(200))
        #expect(ended.load(ordering: .relaxed) == 1)
    }

    @Test func itWaitsForTheShutdownToBegin() async throws {
        let ended = Atomic<Int>(0)
        _ = ShutdownWatchdog(limit: .milliseconds(1), logger: Logger.test()) { ended.add(1, ordering: .relaxed) }
        try await Task.sleep(for: .milliseconds(100))
        #expect(ended.load(ordering: .relaxed) == 0)
    }
}
