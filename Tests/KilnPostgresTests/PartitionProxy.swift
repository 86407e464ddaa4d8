#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import KilnTesting
import Synchronization

/// A TCP relay from a loopback address to 127.0.0.1:`port` (PostgreSQL) that can be cut
/// like a network partition and healed. Cut, it moves no byte either way and takes no new
/// connection: the clients' connections stay open with their requests unanswered (as when
/// packets are dropped, no reset, no error), and new ones wait in the listen backlog.
/// Healed, what waited goes through. Each connection is relayed by a thread of its own;
/// `stop()` closes everything.
final class PartitionProxy: Sendable {
    let host: String
    let port: Int
    private let listener: Int32
    private let upstreamPort: Int
    private let isCut = Atomic<Bool>(false)
    private let stopping = Atomic<Bool>(false)
    private let threads = Mutex<Int>(0)
    /// Connections relayed so far.
    let connections = Atomic<Int>(0)

    init(toPort upstreamPort: Int) throws {
        var generator = SystemRandomNumberGenerator()
        var opened: (Int32, Int, String)?
        var lastError: (any Error)?
        for _ in 0..<20 where opened == nil {
            let host = LoopbackHosts.randomAddress(using: &generator)
            do {
                let (fd, port) = try SilentListener.listeningSocket(host: host, backlog: 64)
                opened = (fd, port, host)
            } catch {
                lastError = error
            }
        }
        guard let (fd, port, host) = opened else { throw lastError ?? LoopbackTCPServer.Failure(description: "no free loopback address") }
        listener = fd
        self.port = port
        self.host = host
        self.upstreamPort = upstreamPort
        spawn { [self] in acceptLoop() }
    }

    /// Drops every byte's passage from now on, both ways, without closing anything.
    func cut() { isCut.store(true, ordering: .sequentiallyConsistent) }

    /// Lets bytes through again: what the clients sent meanwhile reaches the server.
    func heal() { isCut.store(false, ordering: .sequentiallyConsistent) }

    /// Closes the listener and every relayed connection; returns when their threads ended.
    func stop() async {
        stopping.store(true, ordering: .sequentiallyConsistent)
        while threads.withLock({ $0 }) > 0 {
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    private func spawn(_ body: @escaping @Sendable () -> Void) {
        threads.withLock { $0 += 1 }
        let thread = Thread { [self] in
            body()
            threads.withLock { $0 -= 1 }
        }
        thread.start()
    }

    private var stopped: Bool { stopping.load(ordering: .relaxed) }
    private var cutNow: Bool { isCut.load(ordering: .relaxed) }

    private func acceptLoop() {
        defer { close(listener) }
        while !stopped {
            // Cut: new connections wait in the backlog, unanswered.
            guard !cutNow else {
                usleep(20_000)
                continue
            }
            guard LoopbackTCPServer.readable(listener, milliseconds: 50) else { continue }
            let client = accept(listener, nil, nil)
            guard client >= 0 else { continue }
            connections.add(1, ordering: .relaxed)
            spawn { [self] in relay(client) }
        }
    }

    private func relay(_ client: Int32) {
        defer { close(client) }
        LoopbackTCPServer.relay(client, toPort: upstreamPort, stopping: { stopped }, paused: { cutNow })
    }
}
