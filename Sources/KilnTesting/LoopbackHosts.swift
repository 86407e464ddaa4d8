import Glibc
import KilnLoopback
import Synchronization

/// Receivers on distinct loopback addresses that share one port, as MX hosts share port
/// 25: each test picks random addresses in 127.1.0.0–127.250.255.255 (the pools use
/// 127.0.0.x), so tests running in parallel do not collide.
public enum LoopbackHosts {
    /// A random loopback address outside 127.0.0.0/24.
    public static func randomAddress(using generator: inout some RandomNumberGenerator) -> String {
        "127.\(Int.random(in: 1...250, using: &generator)).\(Int.random(in: 0...255, using: &generator)).\(Int.random(in: 2...250, using: &generator))"
    }

    /// SMTP servers, one per script, on distinct random loopback addresses and one port;
    /// `tls[i]` (when given) is server i's TLS.
    public static func smtpServers(_ scripts: [LoopbackSMTPServer.Script], tls: [LoopbackSMTPServer.TLS?] = []) async throws -> [LoopbackSMTPServer] {
        func tlsOf(_ index: Int) -> LoopbackSMTPServer.TLS? { index < tls.count ? tls[index] : nil }
        var generator = SystemRandomNumberGenerator()
        var lastError: (any Error)?
        for _ in 0..<20 {
            var servers: [LoopbackSMTPServer] = []
            do {
                let first = try await LoopbackSMTPServer.start(host: randomAddress(using: &generator), tls: tlsOf(0), script: scripts[0])
                servers.append(first)
                for (index, script) in scripts.enumerated().dropFirst() {
                    servers.append(try await LoopbackSMTPServer.start(host: randomAddress(using: &generator), port: first.port, tls: tlsOf(index), script: script))
                }
                return servers
            } catch {
                lastError = error
                for server in servers { await server.shutdown() }
            }
        }
        throw lastError ?? SilentListener.Failure(description: "no free loopback address and port")
    }
}

/// A TCP listener that completes connections (in the kernel's backlog) and never says a
/// word: a receiver that accepts and then hangs.
public final class SilentListener: Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    public let host: String
    public let port: Int
    let fd: Atomic<Int32>

    /// Listens on `host` and `port` (0: any free port).
    public init(host: String, port: Int = 0) throws {
        let (fd, bound) = try Self.listeningSocket(host: host, port: port, backlog: 1024)
        self.fd = Atomic(fd)
        self.host = host
        self.port = bound
    }

    /// A TCP socket listening on `host` and `port` (0: any free port), and the port it got.
    public static func listeningSocket(host: String, port: Int = 0, backlog: Int32) throws -> (fd: Int32, port: Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: \(String(cString: strerror(errno)))") }
        var reuse: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, host, &address.sin_addr)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard bound == 0, listen(fd, backlog) == 0 else {
            let why = String(cString: strerror(errno))
            close(fd)
            throw Failure(description: "bind/listen \(host):\(port): \(why)")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return (fd, Int(UInt16(bigEndian: address.sin_port)))
    }

    /// Stops listening (and drops what waits in the backlog). Safe to call twice.
    public func stop() {
        let fd = self.fd.exchange(-1, ordering: .relaxed)
        if fd >= 0 { close(fd) }
    }

    deinit { stop() }
}
