import CoreMetrics
import KilnCore
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

/// The SMTP submission listener (RFC 6409): ESMTP with STARTTLS (RFC 3207), AUTH PLAIN
/// and LOGIN over TLS (RFC 4954), PIPELINING, SIZE, 8BITMIME, SMTPUTF8 and
/// ENHANCEDSTATUSCODES, in front of a `SubmissionBackend`. A message is answered `250`
/// only once the backend has stored it.
///
/// ```swift
/// let server = try await SMTPSubmissionServer.start(
///     settings: SMTPSubmissionSettings(listeners: [.init(host: "0.0.0.0", port: 587)],
///                                      tls: .pemFiles(certificateChain: chain, privateKey: key), hostname: "smtp.example.com"),
///     backend: gate, logger: logger)
/// ...
/// await server.stop()
/// ```
public final class SMTPSubmissionServer: Sendable {
    /// Where the server listens, with the port the system chose for a port 0.
    public let boundListeners: [SMTPSubmissionSettings.Listener]
    let channels: [any Channel]
    let group: MultiThreadedEventLoopGroup
    let environment: SubmissionEnvironment
    let stopped = Mutex(false)

    init(boundListeners: [SMTPSubmissionSettings.Listener], channels: [any Channel], group: MultiThreadedEventLoopGroup, environment: SubmissionEnvironment) {
        self.boundListeners = boundListeners
        self.channels = channels
        self.group = group
        self.environment = environment
    }

    /// The bound ports, in the order of `settings.listeners`.
    public var ports: [Int] { boundListeners.map(\.port) }

    /// Opens the listeners. Throws `KilnError` (`.invalidConfiguration`) for settings that
    /// cannot run, a TLS error for a certificate or key that cannot be read, or the bind
    /// error; then nothing is left open.
    /// - Parameter metrics: the metrics backend (nil: `MetricsSystem.factory`).
    public static func start(settings: SMTPSubmissionSettings, backend: any SubmissionBackend, logger: Logger,
                             metrics: (any MetricsFactory)? = nil) async throws -> SMTPSubmissionServer {
        if let problem = settings.problems().first { throw problem }
        let tlsContext = try settings.tls?.makeContext()
        let environment = SubmissionEnvironment(
            settings: settings, backend: backend, logger: logger, tlsContext: tlsContext,
            metrics: SubmissionMetrics(factory: metrics ?? MetricsSystem.factory, listener: "smtp"))
        let group = MultiThreadedEventLoopGroup(numberOfThreads: settings.eventLoopThreads)
        var channels: [any Channel] = []
        var bound: [SMTPSubmissionSettings.Listener] = []
        do {
            for listener in settings.listeners {
                let channel = try await bootstrap(group: group, listener: listener, environment: environment)
                    .bind(host: listener.host, port: listener.port).get()
                channels.append(channel)
                bound.append(.init(host: listener.host, port: channel.localAddress?.port ?? listener.port, implicitTLS: listener.implicitTLS))
            }
        } catch {
            for channel in channels { try? await channel.close() }
            try? await group.shutdownGracefully()
            throw error
        }
        logger.info("submission listening", metadata: ["listeners": "\(bound.map { "\($0.host):\($0.port)" })"])
        return SMTPSubmissionServer(boundListeners: bound, channels: channels, group: group, environment: environment)
    }

    static func bootstrap(group: MultiThreadedEventLoopGroup, listener: SMTPSubmissionSettings.Listener,
                          environment: SubmissionEnvironment) -> ServerBootstrap {
        let settings = environment.settings
        return ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    guard let id = environment.registry.admit(channel, limit: settings.maxConnections) else {
                        environment.logger.notice("submission connection refused: too many connections",
                                                  metadata: ["peer": "\(channel.remoteAddress.map(Self.peer) ?? "?")"])
                        try pipeline.addHandler(RefusingHandler(reply: SMTPReply(code: 421, enhancedStatus: "4.3.2", text: "Too many connections")))
                        return
                    }
                    channel.closeFuture.whenComplete { _ in environment.registry.remove(id) }
                    if listener.implicitTLS, let tls = environment.tlsContext { try pipeline.addHandler(NIOSSLServerHandler(context: tls)) }
                    let control = SubmissionLineDecoder.Control()
                    let maxLine = max(settings.maxCommandLineLength, settings.maxDataLineLength)
                    try pipeline.addHandler(ByteToMessageHandler(SubmissionLineDecoder(maxLength: maxLine, control: control)))
                    try pipeline.addHandler(SubmissionSessionHandler(
                        environment: environment, peer: channel.remoteAddress.map(Self.peer) ?? "", implicitTLS: listener.implicitTLS,
                        decoderControl: control))
                }
            }
    }

    /// The client's IP address without port; an IPv4-mapped IPv6 address as IPv4
    /// (`::ffff:127.0.0.9` → `127.0.0.9`).
    static func peer(_ address: SocketAddress) -> String {
        let ip = address.ipAddress ?? ""
        let mapped = "::ffff:"
        if ip.lowercased().hasPrefix(mapped), ip.dropFirst(mapped.count).contains(".") { return String(ip.dropFirst(mapped.count)) }
        return ip
    }

    /// Open sessions now.
    public var openSessions: Int { environment.registry.count }

    /// Closes the listeners, tells each session between transactions `421 4.3.2` and
    /// closes it, lets a session in a transaction finish it (its backend call included),
    /// and closes whatever is still open after `shutdownGracePeriod`. Safe to call more
    /// than once.
    public func stop() async {
        let first = stopped.withLock { stopped in
            defer { stopped = true }
            return !stopped
        }
        guard first else { return }
        for channel in channels { try? await channel.close() }
        for channel in environment.registry.beginStopping() {
            channel.pipeline.fireUserInboundEventTriggered(SubmissionServerStopping())
        }
        let clock = ContinuousClock()
        let deadline = clock.now + environment.settings.shutdownGracePeriod
        while environment.registry.isBusy, clock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        for channel in environment.registry.openChannels { try? await channel.close() }
        // A backend call the session no longer waits for still completes on its event loop.
        let backendDeadline = clock.now + .seconds(5)
        while environment.registry.backendCalls > 0, clock.now < backendDeadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        do {
            try await group.shutdownGracefully()
        } catch {
            environment.logger.warning("submission event loops did not shut down", metadata: ["error": "\(error)"])
        }
        environment.logger.info("submission stopped")
    }
}

/// What every session of a server shares.
final class SubmissionEnvironment: Sendable {
    let settings: SMTPSubmissionSettings
    let backend: any SubmissionBackend
    let logger: Logger
    let tlsContext: NIOSSLContext?
    let metrics: SubmissionMetrics
    let registry = ConnectionRegistry()

    init(settings: SMTPSubmissionSettings, backend: any SubmissionBackend, logger: Logger, tlsContext: NIOSSLContext?, metrics: SubmissionMetrics) {
        self.settings = settings
        self.backend = backend
        self.logger = logger
        self.tlsContext = tlsContext
        self.metrics = metrics
    }
}

/// The open connections (for the connection cap and `stop()`) and the backend calls in
/// flight.
final class ConnectionRegistry: Sendable {
    struct State {
        var channels: [Int: any Channel] = [:]
        var nextID = 0
        var backendCalls = 0
        var stopping = false
    }
    let state = Mutex(State())

    /// An id for the connection, or nil when `limit` are open or the server is stopping.
    func admit(_ channel: any Channel, limit: Int) -> Int? {
        state.withLock { state in
            guard !state.stopping, state.channels.count < limit else { return nil }
            state.nextID += 1
            state.channels[state.nextID] = channel
            return state.nextID
        }
    }

    func remove(_ id: Int) { state.withLock { _ = $0.channels.removeValue(forKey: id) } }

    /// Refuses new connections from now on; returns the open ones.
    func beginStopping() -> [any Channel] {
        state.withLock { state in
            state.stopping = true
            return Array(state.channels.values)
        }
    }

    var count: Int { state.withLock { $0.channels.count } }
    var openChannels: [any Channel] { state.withLock { Array($0.channels.values) } }
    var isBusy: Bool { state.withLock { !$0.channels.isEmpty || $0.backendCalls > 0 } }
    var backendCalls: Int { state.withLock { $0.backendCalls } }
    func backendCallStarted() { state.withLock { $0.backendCalls += 1 } }
    func backendCallFinished() { state.withLock { $0.backendCalls -= 1 } }
}

/// Answers a connection over the cap with one reply and closes it.
final class RefusingHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let reply: SMTPReply

    init(reply: SMTPReply) { self.reply = reply }

    func channelActive(context: ChannelHandlerContext) {
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(string: reply.wireText))).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
}
