import Glibc
import Foundation
import KilnCore
@testable import KilnPostgres
import KilnTesting
import Logging
import PostgresNIO
import Synchronization
import Testing

/// `store.tls` against a PostgreSQL server with `ssl = on` (its throwaway CA and server
/// certificate, for 127.0.0.1 and localhost, made by `scripts/postgres-test-env.sh`, which
/// exports `KILN_TEST_POSTGRES_CA` and, for a CA that signed nothing of the server's,
/// `KILN_TEST_POSTGRES_OTHER_CA`), and against a fake server that offers no TLS at all.
/// Both of the store's ways in are checked: its pool (`clientConfiguration`) and its single
/// connections (`connectionConfiguration`: the migration probe and the node lock).
@Suite struct PostgresTLSTests {
    static let logger = PostgresTestServer.logger
    static let sessionIsEncrypted: PostgresQuery = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"

    /// What `pg_stat_ssl` says of the session that ran the query.
    static func encrypted(_ rows: PostgresRowSequence) async throws -> Bool? {
        var encrypted: Bool?
        for try await ssl in rows.decode(Bool.self) { encrypted = ssl }
        return encrypted
    }

    /// Whether the session of a single connection (the node lock's way in) is encrypted.
    static func connectionIsEncrypted(_ settings: PostgresSettings) async throws -> Bool? {
        let connection = try await PostgresConnection.connect(configuration: try settings.connectionConfiguration(), id: 1, logger: logger)
        do {
            let encrypted = try await encrypted(connection.query(sessionIsEncrypted, logger: logger))
            try await connection.close()
            return encrypted
        } catch {
            try? await connection.close()
            throw error
        }
    }

    /// Why a single connection in `settings` failed (nil: it did not), as PostgresNIO
    /// tells it (its code, and the TLS layer's error underneath).
    static func connectionFailure(_ settings: PostgresSettings) async -> String? {
        do {
            _ = try await connectionIsEncrypted(settings)
            return nil
        } catch let error as PSQLError {
            return "\(error.code): \(error.underlying.map { String(reflecting: $0) } ?? "-")"
        } catch {
            return String(reflecting: error)
        }
    }

    /// `body`'s result, or nil when it took more than `seconds` (it is cancelled then): the
    /// pool keeps retrying a server it cannot reach rather than failing the query.
    static func within<T: Sendable>(seconds: Int, _ body: @escaping @Sendable () async throws -> T) async -> Result<T, any Error>? {
        await withTaskGroup(of: Result<T, any Error>?.self) { group in
            group.addTask {
                do { return .success(try await body()) } catch { return .failure(error) }
            }
            group.addTask {
                try? await Task.sleep(for: .seconds(seconds))
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }

    // MARK: - The real server, ssl = on

    @Suite(.enabled(if: PostgresTestServer.tlsEnabled, "set KILN_TEST_POSTGRES_URL and KILN_TEST_POSTGRES_CA (scripts/postgres-test-env.sh does)"))
    struct AgainstTheServer {
        /// The test server's `kiln` database (no fresh one needed: nothing is written), in `mode`.
        func settings(_ mode: PostgresSettings.TLSMode, caFile: String? = nil, host: String? = nil, port: Int? = nil) throws -> PostgresSettings {
            guard let url = PostgresTestServer.url else { throw KilnError(.invalidConfiguration, "KILN_TEST_POSTGRES_URL is not set (run the tests with `make test`)") }
            var settings = try PostgresSettings(url: url, password: PostgresTestServer.password, tls: mode, caFile: caFile)
            if let host { settings.host = host }
            if let port { settings.port = port }
            return settings
        }

        /// Every mode through both ways in: encrypted unless `disable` (`verify` with the
        /// server's CA, over 127.0.0.1: the certificate's IP SAN is what makes it pass).
        @Test(arguments: PostgresSettings.TLSMode.allCases)
        func everyModeAgainstTheServer(_ mode: PostgresSettings.TLSMode) async throws {
            let files = try PostgresTestServer.tlsFiles()
            let settings = try settings(mode, caFile: mode == .verify ? files.ca : nil)
            #expect(settings.host == "127.0.0.1")
            #expect(try await PostgresTLSTests.connectionIsEncrypted(settings) == (mode != .disable))
            let store = PostgresStore(settings: settings)
            let viaPool = await PostgresTLSTests.within(seconds: 30) { try await PostgresTLSTests.encrypted(store.query(PostgresTLSTests.sessionIsEncrypted, logger: PostgresTLSTests.logger)) }
            #expect(try viaPool?.get() == (mode != .disable))
        }

        /// The store the other tests use, opened with `tls: verify` and the server's CA:
        /// migrated, used, and its sessions encrypted.
        @Test func verifyWithTheServersCAOpensTheStore() async throws {
            let files = try PostgresTestServer.tlsFiles()
            let db = try await PostgresTestServer.freshDatabase()
            var settings = db.settings
            settings.tls = .verify
            settings.caFile = files.ca
            let store = PostgresStore(settings: settings)
            #expect(try await store.migrate() > 0)
            #expect(try await store.counts().isEmpty)
            #expect(try await PostgresTLSTests.encrypted(store.query(PostgresTLSTests.sessionIsEncrypted, logger: PostgresTLSTests.logger)) == true)
            #expect(try await PostgresTLSTests.connectionIsEncrypted(settings) == true)
            await db.drop()
        }

        /// `verify` with a CA that did not sign the server's certificate (or with the
        /// system's trust store, which does not hold the throwaway CA) is refused: the store
        /// does not open, and no session reaches the database.
        @Test func verifyRefusesAServerItsCADidNotSign() async throws {
            let files = try PostgresTestServer.tlsFiles()
            let db = try await PostgresTestServer.freshDatabase()
            for caFile in [files.other, nil] {
                var settings = db.settings
                settings.tls = .verify
                settings.caFile = caFile
                let store = PostgresStore(settings: settings)
                await #expect(throws: KilnError.self, "caFile \(caFile ?? "none")") { try await store.migrate() }
                let failure = await PostgresTLSTests.connectionFailure(settings)
                #expect(failure?.contains("CERTIFICATE_VERIFY_FAILED") == true, "caFile \(caFile ?? "none"): \(failure ?? "connected")")
                // The pool either fails the query or keeps retrying; it never runs it.
                let viaPool = await PostgresTLSTests.within(seconds: 3) { try await PostgresTLSTests.encrypted(store.query(PostgresTLSTests.sessionIsEncrypted, logger: PostgresTLSTests.logger)) }
                if case .success(let encrypted) = viaPool { Issue.record("the pool ran a query over an unverified server (ssl: \(String(describing: encrypted)))") }
            }
            var sessions = 0
            try await PostgresTestServer.admin(db.base) { connection in
                for try await count in try await connection.query("SELECT count(*)::int FROM pg_stat_activity WHERE datname = \(db.settings.database)", logger: PostgresTLSTests.logger).decode(Int.self) {
                    sessions = count
                }
            }
            #expect(sessions == 0)
            await db.drop()
        }

        /// `verify` checks the server's name, not only its chain: the same server reached
        /// through a loopback address its certificate does not name is refused (while
        /// `require`, which checks nothing, goes through the same way), and `localhost` (its
        /// DNS SAN) passes.
        @Test func verifyChecksTheAddressItConnectedTo() async throws {
            let files = try PostgresTestServer.tlsFiles()
            let direct = try settings(.require)
            let proxy = try LoopbackTCPServer.onRandomLoopbackAddress { client, stopping in
                LoopbackTCPServer.relay(client, toPort: direct.port, stopping: stopping)
            }
            do {
                let elsewhere = proxy.host
                #expect(elsewhere != "127.0.0.1")
                #expect(try await PostgresTLSTests.connectionIsEncrypted(try settings(.require, host: elsewhere, port: proxy.port)) == true)
                let failure = await PostgresTLSTests.connectionFailure(try settings(.verify, caFile: files.ca, host: elsewhere, port: proxy.port))
                #expect(failure?.contains("failedToValidateHostname") == true, "\(elsewhere) is not in the certificate: \(failure ?? "connected")")
                #expect(try await PostgresTLSTests.connectionIsEncrypted(try settings(.verify, caFile: files.ca, host: "localhost")) == true)
            } catch {
                await proxy.stop()
                throw error
            }
            await proxy.stop()
        }
    }

    // MARK: - A server without TLS (no PostgreSQL needed)

    /// A fake server that answers the SSLRequest with `N` (no TLS) and keeps what the client
    /// sends next: with `require` and `verify` nothing (the client hangs up, never sending
    /// its StartupMessage, which holds the user name, in clear text), through both ways in.
    @Suite struct WithoutTLS {
        func settings(_ mode: PostgresSettings.TLSMode, port: Int) throws -> PostgresSettings {
            var settings = try PostgresSettings(url: "postgres://kiln@127.0.0.1:\(port)/kiln", password: "not-sent", tls: mode)
            if mode == .verify { settings.caFile = PostgresTestServer.caFile }
            return settings
        }

        @Test(arguments: [PostgresSettings.TLSMode.require, .verify])
        func neverFallsBackToClearText(_ mode: PostgresSettings.TLSMode) async throws {
            let (server, seen) = try NoTLSServer.start()
            do {
                let settings = try settings(mode, port: server.port)
                // A single connection (the migration probe's and the node lock's way in) …
                let failure = await PostgresTLSTests.connectionFailure(settings)
                #expect(failure?.hasPrefix("sslUnsupported:") == true, "\(failure ?? "connected")")
                let store = PostgresStore(settings: settings)
                await #expect(throws: KilnError.self) { try await store.migrate() }
                // … and the pool.
                let viaPool = await PostgresTLSTests.within(seconds: 5) { try await PostgresTLSTests.encrypted(store.query(PostgresTLSTests.sessionIsEncrypted, logger: PostgresTLSTests.logger)) }
                if case .success = viaPool { Issue.record("the pool ran a query without TLS") }
            } catch {
                await server.stop()
                throw error
            }
            await server.stop()
            // A connection the pool was still opening when the server stopped sent nothing:
            // no bytes, no clear text. Every connection that sent anything is judged.
            let connections = seen.all.filter { $0.sslRequest || !$0.after.isEmpty }
            #expect(connections.count >= 3, "the single connection, the probe and the pool's: \(seen.all)")
            #expect(connections.allSatisfy { $0.sslRequest }, "\(connections)")
            #expect(connections.allSatisfy { $0.after.isEmpty }, "sent after the server refused TLS: \(connections)")
            #expect(connections.allSatisfy { $0.clientHungUp }, "\(connections)")
        }

        /// The control: `prefer` against the same server does go on without TLS, sending its
        /// StartupMessage (protocol 3.0) in clear text, as it should (and as the test above
        /// would see).
        @Test func preferGoesOnInClearText() async throws {
            let (server, seen) = try NoTLSServer.start()
            do {
                let settings = try settings(.prefer, port: server.port)
                await #expect(throws: (any Error).self) { _ = try await PostgresTLSTests.connectionIsEncrypted(settings) }
                let store = PostgresStore(settings: settings)
                _ = await PostgresTLSTests.within(seconds: 5) { try await PostgresTLSTests.encrypted(store.query(PostgresTLSTests.sessionIsEncrypted, logger: PostgresTLSTests.logger)) }
            } catch {
                await server.stop()
                throw error
            }
            await server.stop()
            let connections = seen.all
            #expect(connections.count >= 2, "\(connections)")
            #expect(connections.allSatisfy { $0.sslRequest }, "\(connections)")
            #expect(connections.allSatisfy { $0.after.count == 8 && Array($0.after[4..<8]) == [0, 3, 0, 0] }, "no StartupMessage after the N: \(connections)")
        }
    }
}

extension PostgresTestServer {
    static let caFile = environment["KILN_TEST_POSTGRES_CA"]
    static let otherCAFile = environment["KILN_TEST_POSTGRES_OTHER_CA"]
    /// The TLS tests run when the server has TLS (the script exported its CAs); with
    /// `KILN_REQUIRE_POSTGRES=1` they run, and fail without it.
    static var tlsEnabled: Bool { (url != nil && caFile != nil && otherCAFile != nil) || environment["KILN_REQUIRE_POSTGRES"] == "1" }

    static func tlsFiles() throws -> (ca: String, other: String) {
        guard let caFile, let otherCAFile else {
            throw KilnError(.invalidConfiguration, "KILN_TEST_POSTGRES_CA and KILN_TEST_POSTGRES_OTHER_CA are not set (scripts/postgres-test-env.sh sets them once the server has TLS)")
        }
        return (caFile, otherCAFile)
    }
}

/// A fake PostgreSQL server without TLS: it reads the client's first 8 bytes, answers an
/// SSLRequest with `N`, and keeps what comes next (up to 8 bytes, within 2 s).
enum NoTLSServer {
    struct Connection: Sendable, CustomStringConvertible {
        /// The first 8 bytes were an SSLRequest (length 8, code 80877103).
        var sslRequest: Bool
        /// What the client sent after the `N` (or instead of an SSLRequest).
        var after: [UInt8]
        /// The client closed the connection (rather than leaving it open for 2 s).
        var clientHungUp: Bool
        var description: String { "(sslRequest: \(sslRequest), then \(after), hung up: \(clientHungUp))" }
    }

    final class Seen: Sendable {
        private let connections = Mutex<[Connection]>([])
        var all: [Connection] { connections.withLock { $0 } }
        func add(_ connection: Connection) { connections.withLock { $0.append(connection) } }
    }

    static let sslRequest: [UInt8] = [0, 0, 0, 8, 0x04, 0xD2, 0x16, 0x2F]

    static func start() throws -> (LoopbackTCPServer, Seen) {
        let seen = Seen()
        let server = try LoopbackTCPServer(host: "127.0.0.1") { client, stopping in
            let (first, closed) = LoopbackTCPServer.receive(client, upTo: 8, seconds: 5, stopping: stopping)
            guard first == sslRequest else {
                seen.add(Connection(sslRequest: false, after: first, clientHungUp: closed))
                return
            }
            guard LoopbackTCPServer.sendAll(client, [UInt8(ascii: "N")]) else {
                seen.add(Connection(sslRequest: true, after: [], clientHungUp: true))
                return
            }
            let (after, hungUp) = LoopbackTCPServer.receive(client, upTo: 8, seconds: 2, stopping: stopping)
            seen.add(Connection(sslRequest: true, after: after, clientHungUp: hungUp))
        }
        return (server, seen)
    }
}

/// A TCP listener on a loopback address whose own thread hands each connection, one at a
/// time, to `handle` (and closes it after); `stop()` returns once that thread has ended.
final class LoopbackTCPServer: Sendable {
    struct Failure: Error, CustomStringConvertible { var description: String }

    let host: String
    let port: Int
    private let fd: Int32
    private let stopping = Atomic<Bool>(false)
    private let finished = Mutex<(done: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    static let noSignal = Int32(MSG_NOSIGNAL)

    init(host: String, handle: @escaping @Sendable (_ client: Int32, _ stopping: @escaping @Sendable () -> Bool) -> Void) throws {
        let (fd, port) = try SilentListener.listeningSocket(host: host, backlog: 16)
        self.fd = fd
        self.host = host
        self.port = port
        let thread = Thread { [self] in
            let stopping: @Sendable () -> Bool = { self.stopping.load(ordering: .relaxed) }
            while !stopping() {
                guard Self.readable(fd, milliseconds: 100) else { continue }
                let client = accept(fd, nil, nil)
                guard client >= 0 else { continue }
                handle(client, stopping)
                close(client)
            }
            close(fd)
            let waiters = finished.withLock { state in
                state.done = true
                return state.waiters
            }
            for waiter in waiters { waiter.resume() }
        }
        thread.start()
    }

    /// A listener on a random loopback address other than 127.0.0.1.
    static func onRandomLoopbackAddress(handle: @escaping @Sendable (_ client: Int32, _ stopping: @escaping @Sendable () -> Bool) -> Void) throws -> LoopbackTCPServer {
        var generator = SystemRandomNumberGenerator()
        var lastError: (any Error)?
        for _ in 0..<20 {
            do {
                return try LoopbackTCPServer(host: LoopbackHosts.randomAddress(using: &generator), handle: handle)
            } catch {
                lastError = error
            }
        }
        throw lastError ?? Failure(description: "no free loopback address")
    }

    func stop() async {
        stopping.store(true, ordering: .relaxed)
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let done = finished.withLock { state in
                if !state.done { state.waiters.append(continuation) }
                return state.done
            }
            if done { continuation.resume() }
        }
    }

    static func socketAddress(_ host: String, port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, host, &address.sin_addr)
        return address
    }

    static func readable(_ fd: Int32, milliseconds: Int32) -> Bool {
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&entry, 1, milliseconds) > 0
    }

    /// Up to `count` bytes, within `seconds`; and whether the peer closed the connection.
    static func receive(_ fd: Int32, upTo count: Int, seconds: Double, stopping: () -> Bool) -> (bytes: [UInt8], closed: Bool) {
        let deadline = Date().addingTimeInterval(seconds)
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: count)
        while bytes.count < count, Date() < deadline, !stopping() {
            guard readable(fd, milliseconds: 50) else { continue }
            let read = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, count - bytes.count, 0) }
            if read <= 0 { return (bytes, true) }
            bytes += buffer.prefix(read)
        }
        return (bytes, false)
    }

    static func sendAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var sent = 0
        while sent < bytes.count {
            let written = bytes.withUnsafeBytes { systemSend(fd, $0.baseAddress! + sent, bytes.count - sent) }
            if written <= 0 { return false }
            sent += written
        }
        return true
    }

    private static func systemSend(_ fd: Int32, _ pointer: UnsafeRawPointer, _ count: Int) -> Int {
        Glibc.send(fd, pointer, count, noSignal)
    }

    /// Relays bytes between `client` and 127.0.0.1:`port` until either side closes. While
    /// `paused` says so, nothing is read either way (the kernel keeps the bytes).
    static func relay(_ client: Int32, toPort port: Int, stopping: () -> Bool, paused: () -> Bool = { false }) {
        let upstream = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard upstream >= 0 else { return }
        defer { close(upstream) }
        var address = socketAddress("127.0.0.1", port: port)
        let connected = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(upstream, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard connected == 0 else { return }
        var buffer = [UInt8](repeating: 0, count: 16_384)
        while !stopping() {
            guard !paused() else {
                usleep(20_000)
                continue
            }
            var entries = [pollfd(fd: client, events: Int16(POLLIN), revents: 0), pollfd(fd: upstream, events: Int16(POLLIN), revents: 0)]
            let ready = poll(&entries, 2, 100)
            if ready < 0 { return }
            for (index, (from, to)) in [(client, upstream), (upstream, client)].enumerated() where entries[index].revents != 0 {
                let read = buffer.withUnsafeMutableBytes { recv(from, $0.baseAddress, $0.count, 0) }
                guard read > 0, sendAll(to, Array(buffer.prefix(read))) else { return }
            }
        }
    }
}
