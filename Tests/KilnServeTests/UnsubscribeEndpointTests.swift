import Foundation
import Hummingbird
import Glibc
import Kiln
import KilnCore
import KilnMessage
import KilnServe
import Logging
import KilnTesting
import Testing

/// The RFC 8058 endpoint over real HTTP on loopback.
@Suite struct UnsubscribeEndpointTests {
    static let secret = "endpoint-test-secret-0123456789"

    func engine(in directory: String) throws -> SendEngine {
        let configuration = Configuration(
            store: .init(path: "kiln.sqlite"), senderId: "Test",
            identities: [.init(domain: "example.com", returnPathDomain: "bounce.example.com")],
            pools: [.init(name: "p", ips: ["127.0.0.2"], scaling: .fixed)],
            delivery: .init(mode: .routes, routes: ["*": "smtp://127.0.0.1:1"], heloName: "mta.example.com"),
            configurationSets: [
                .init(name: "news", pool: "p", unsubscribe: .init(url: "https://example.com/u", secretEnv: "KILN_UNSUB")),
                .init(name: "other", pool: "p"),
            ], defaultConfigurationSet: "news")
        return try SendEngine(configuration: configuration, baseDirectory: directory,
                              secrets: SecretSource(environment: ["KILN_UNSUB": Self.secret]), logger: Logger.test())
    }

    @Test func oneClickPostSuppressesAtOnceAndForgedTokensAreRefused() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-serve-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let engine = try engine(in: directory)
        let router = Hummingbird.Router()
        UnsubscribeEndpoint(engine: engine).addRoutes(to: router, path: "/u")
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              onServerRunning: { channel in continuation.yield(channel.localAddress?.port ?? 0) })
        let server = Task { try await app.runService(gracefulShutdownSignals: []) }
        defer { server.cancel() }
        var iterator = ports.makeAsyncIterator()
        let port = try #require(await iterator.next())
        let token = UnsubscribeToken(recipient: "ann@example.net", list: "news", campaign: "spring").make(secret: Array(Self.secret.utf8))
        let forged = UnsubscribeToken(recipient: "bob@example.net", list: "news", campaign: "spring").make(secret: Array("guess".utf8))
        let oneClick = "List-Unsubscribe=One-Click"

        #expect(try await HTTP.request(port: port, "POST", "/u?t=\(forged)", body: oneClick).status == 403)
        #expect(try await engine.store.suppressionTotal() == 0)
        // A GET only shows the confirmation page: nothing changes.
        let page = try await HTTP.request(port: port, "GET", "/u?t=\(token)")
        #expect(page.status == 200)
        #expect(page.body.contains("List-Unsubscribe"))
        #expect(try await engine.store.suppressionTotal() == 0)
        // A POST without the one-click body is not an RFC 8058 unsubscribe.
        #expect(try await HTTP.request(port: port, "POST", "/u?t=\(token)", body: "").status == 400)
        #expect(try await HTTP.request(port: port, "POST", "/u?t=\(token)", body: oneClick).status == 200)
        let entry = try #require(try await engine.store.suppression(of: "ann@example.net", scope: "news"))
        #expect(entry.reason == .unsubscribe)
        #expect(try await engine.store.suppression(of: "ann@example.net", scope: "other") == nil)
        #expect(try await engine.store.suppression(of: "bob@example.net", scope: "news") == nil)
    }
}

/// A minimal HTTP/1.1 client over a loopback socket (one request per connection).
enum HTTP {
    struct Failure: Error { var what: String }

    /// Serves `router` on an ephemeral loopback port with `limits`; cancel the task to stop.
    static func serve(_ router: Hummingbird.Router<BasicRequestContext>, limits: UnsubscribeServerLimits) async throws
        -> (port: Int, server: Task<Void, any Error>) {
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let app = Application(router: router, server: limits.server,
                              configuration: limits.configuration(address: .hostname("127.0.0.1", port: 0), logger: Logger.test()),
                              onServerRunning: { channel in continuation.yield(channel.localAddress?.port ?? 0) })
        let server = Task { try await app.runService(gracefulShutdownSignals: []) }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else {
            server.cancel()
            throw Failure(what: "the server did not start")
        }
        return (port, server)
    }

    /// A TCP connection to `port` on 127.0.0.1.
    static func connection(port: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(what: "socket (errno \(errno))") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { close(fd); throw Failure(what: "connect (errno \(errno))") }
        return fd
    }

    /// One request and its answer, on a thread of its own: the server under test runs on
    /// Swift's cooperative pool, which a blocking wait would take a thread from.
    static func request(port: Int, _ method: String, _ path: String, body: String? = nil) async throws -> (status: Int, body: String) {
        try await onOwnThread { try requestBlocking(port: port, method, path, body: body) }
    }

    static func requestBlocking(port: Int, _ method: String, _ path: String, body: String? = nil) throws -> (status: Int, body: String) {
        let answer = try exchange(port: port, "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n", body: body)
        return (answer.status, answer.body)
    }

    /// The answer to `head` (the request line and header lines, each ending in CRLF) and
    /// `body`: its status line, status and body, and whether the server closed the
    /// connection within `wait` seconds after the whole answer had come (false: it kept it
    /// open). The answer itself may take up to 60 s (a loaded machine).
    static func exchange(port: Int, _ head: String, body: String? = nil, wait: Int = 30) throws
        -> (statusLine: String, status: Int, body: String, closedByServer: Bool) {
        let fd = try connection(port: port)
        defer { close(fd) }
        func receiveTimeout(_ seconds: Int) {
            var timeout = timeval(tv_sec: seconds, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        }
        receiveTimeout(60)
        var text = head
        if let body {
            text += "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
        } else {
            text += "\r\n"
        }
        let bytes = Array(text.utf8)
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { throw Failure(what: "send") }
            sent += n
        }
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        var closedByServer = false
        /// Whether `response` holds a whole answer (its head and Content-Length bytes).
        func complete() -> Bool {
            let whole = String(decoding: response, as: UTF8.self)
            guard let end = whole.range(of: "\r\n\r\n") else { return false }
            let length = whole[..<end.lowerBound].split(separator: "\r\n").lazy
                .compactMap { line -> Int? in
                    let parts = line.split(separator: ":", maxSplits: 1)
                    guard parts.count == 2, parts[0].lowercased() == "content-length" else { return nil }
                    return Int(parts[1].trimmingCharacters(in: .whitespaces))
                }.first
            guard let length else { return false }
            return whole[end.upperBound...].utf8.count >= length
        }
        while !complete() {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 {
                closedByServer = n == 0
                break
            }
            response += buffer[0..<n]
        }
        if !closedByServer {
            // The whole answer came: does the server close the connection now?
            receiveTimeout(wait)
            while true {
                let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n <= 0 {
                    closedByServer = n == 0
                    break
                }
                response += buffer[0..<n]
            }
        }
        let whole = String(decoding: response, as: UTF8.self)
        let statusLine = whole.split(separator: "\r\n", maxSplits: 1).first.map(String.init) ?? ""
        let status = statusLine.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        let bodyText = whole.range(of: "\r\n\r\n").map { String(whole[$0.upperBound...]) } ?? ""
        return (statusLine, status, bodyText, closedByServer)
    }
}
