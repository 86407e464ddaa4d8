import KilnCore
import NIOCore
import NIOPosix
import Synchronization

/// A scriptable SMTP server on a loopback address, for tests and the demo. It records
/// every accepted message with the client's source address, and answers each command
/// with the script's reply or a normal positive one.
///
/// ```swift
/// let server = try await LoopbackSMTPServer.start { command in
///     if case .recipient(let address) = command.kind, address.hasPrefix("nobody@") {
///         return SMTPReply(code: 550, enhancedStatus: "5.1.1", text: "user unknown")
///     }
///     return nil
/// }
/// ```
public final class LoopbackSMTPServer: Sendable {
    /// A message the server accepted.
    public struct ReceivedMessage: Sendable, Hashable {
        public var mailFrom: String
        public var recipients: [String]
        /// The message as received, dot-unstuffed, CRLF line ends.
        public var data: [UInt8]
        /// The client's source address (which dedicated IP sent it).
        public var clientAddress: String
        /// Whether it came over TLS (after STARTTLS, or on an implicit-TLS port).
        public var overTLS: Bool
        /// The user the session authenticated as (AUTH), if it did.
        public var authenticatedAs: String?
        /// The MAIL command line of the transaction as received (`MAIL FROM:<…> SIZE=… SMTPUTF8`).
        public var mailCommand: String
        public var text: String { String(decoding: data, as: UTF8.self) }
        public init(mailFrom: String, recipients: [String], data: [UInt8], clientAddress: String, overTLS: Bool = false,
                    authenticatedAs: String? = nil, mailCommand: String = "") {
            self.mailCommand = mailCommand
            self.overTLS = overTLS
            self.authenticatedAs = authenticatedAs
            self.mailFrom = mailFrom
            self.recipients = recipients
            self.data = data
            self.clientAddress = clientAddress
        }
    }

    /// A command the script may answer.
    public struct Command: Sendable {
        public enum Kind: Sendable, Equatable {
            case connect
            case hello(String)
            case mailFrom(String)
            case recipient(String)
            /// The end of DATA, with the message.
            case message([UInt8])
        }
        public var kind: Kind
        public var clientAddress: String
        /// Messages accepted on this connection so far.
        public var messagesOnConnection: Int
        /// Messages accepted by the server so far.
        public var messagesTotal: Int
        public init(kind: Kind, clientAddress: String, messagesOnConnection: Int, messagesTotal: Int) {
            self.kind = kind
            self.clientAddress = clientAddress
            self.messagesOnConnection = messagesOnConnection
            self.messagesTotal = messagesTotal
        }
    }

    public typealias Script = @Sendable (Command) -> SMTPReply?

    /// TLS for a receiver: `upgrade` puts a TLS server handler at the front of a
    /// connection's pipeline (KilnTesting's `LoopbackTLS` makes one with swift-nio-ssl and
    /// a throwaway certificate). With `.startTLS` the server offers STARTTLS (RFC 3207);
    /// with `.implicit` every connection starts with TLS (smtps, RFC 8314).
    public struct TLS: Sendable {
        public enum Mode: Sendable { case startTLS, implicit }
        public var mode: Mode
        public var upgrade: @Sendable (any Channel) throws -> Void
        public init(mode: Mode, upgrade: @escaping @Sendable (any Channel) throws -> Void) {
            self.mode = mode
            self.upgrade = upgrade
        }
    }

    /// The one user a server that requires authentication accepts (RFC 4954, with the
    /// PLAIN mechanism of RFC 4616): it offers AUTH and refuses MAIL before it (530 5.7.0).
    public struct Login: Sendable {
        public var username: String
        public var password: String
        public init(username: String, password: String) {
            self.username = username
            self.password = password
        }
    }

    public let host: String
    public let port: Int
    /// Whether EHLO offers SMTPUTF8 (RFC 6531). A server that does not refuses a MAIL
    /// with the SMTPUTF8 parameter (555 5.5.4) and a MAIL or RCPT with a non-ASCII address
    /// (553 5.6.7), as a receiver without the extension would.
    public let offersSMTPUTF8: Bool
    let login: Login?
    let channel: any Channel
    let group: MultiThreadedEventLoopGroup
    let isShutDown = Mutex(false)
    let state: Mutex<State>
    let script: Script
    let tls: TLS?

    struct State {
        var messages: [ReceivedMessage] = []
        /// Every MAIL and RCPT command line received, refused ones included.
        var envelopeCommands: [String] = []
        var connections = 0
        var waiters: [(Int, CheckedContinuation<Void, Never>)] = []
    }

    init(host: String, port: Int, channel: any Channel, group: MultiThreadedEventLoopGroup, tls: TLS?, login: Login?, offersSMTPUTF8: Bool,
         script: @escaping Script) {
        self.offersSMTPUTF8 = offersSMTPUTF8
        self.tls = tls
        self.login = login
        self.host = host
        self.port = port
        self.channel = channel
        self.group = group
        self.state = Mutex(State())
        self.script = script
    }

    /// Starts a server on `host` (a loopback address) and `port` (0 for any free port).
    /// - Parameters:
    ///   - tls: STARTTLS or implicit TLS (nil: plain SMTP only).
    ///   - login: the user it requires to authenticate before MAIL (nil: no AUTH).
    ///   - offersSMTPUTF8: whether EHLO offers SMTPUTF8 (see `offersSMTPUTF8`).
    public static func start(host: String = "127.0.0.1", port: Int = 0, tls: TLS? = nil, login: Login? = nil, offersSMTPUTF8: Bool = true,
                             script: @escaping Script = { _ in nil }) async throws -> LoopbackSMTPServer {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let box = ServerBox()
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let implicit = tls?.mode == .implicit
                    if implicit, let tls { try tls.upgrade(channel) }
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(LineDecoder()))
                    try channel.pipeline.syncOperations.addHandler(SMTPSessionHandler(box: box, overTLS: implicit))
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.bind(host: host, port: port).get()
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
        let server = LoopbackSMTPServer(
            host: host, port: channel.localAddress?.port ?? port, channel: channel, group: group, tls: tls, login: login,
            offersSMTPUTF8: offersSMTPUTF8, script: script)
        box.server.withLock { $0 = server }
        return server
    }

    /// `smtp://host:port` of this server (`smtps://` with implicit TLS).
    public var url: String { "\(tls?.mode == .implicit ? "smtps" : "smtp")://\(host):\(port)" }

    /// Everything accepted so far.
    public var messages: [ReceivedMessage] { state.withLock { $0.messages } }

    /// Connections opened so far.
    public var connectionCount: Int { state.withLock { $0.connections } }

    /// Every MAIL and RCPT command line received so far, refused ones included, as
    /// received (UTF-8 decoded; a raw non-ASCII address shows as such).
    public var envelopeCommands: [String] { state.withLock { $0.envelopeCommands } }

    /// Waits until at least `count` messages were accepted, or `timeout` passed.
    /// - Returns: whether the count was reached.
    @discardableResult
    public func waitForMessages(_ count: Int, timeout: Duration = .seconds(30)) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if state.withLock({ $0.messages.count }) >= count { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return state.withLock { $0.messages.count } >= count
    }

    /// Closes the listener and stops the event loop. Safe to call more than once.
    public func shutdown() async {
        let first = isShutDown.withLock { done in
            defer { done = true }
            return !done
        }
        guard first else { return }
        try? await channel.close()
        try? await group.shutdownGracefully()
    }

    func accept(_ message: ReceivedMessage) -> Int {
        state.withLock { state in
            state.messages.append(message)
            return state.messages.count
        }
    }

    var total: Int { state.withLock { $0.messages.count } }
}

/// Lets child channels reach the server created after the bind.
final class ServerBox: Sendable {
    let server = Mutex<LoopbackSMTPServer?>(nil)
}

/// Splits input into lines at LF, keeping the bytes without the line end.
struct LineDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer
    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else {
            if buffer.readableBytes > 1_000_000 { throw SMTPLineTooLong() }
            return .needMoreData
        }
        let length = newline - buffer.readerIndex
        var line = buffer.readSlice(length: length)!
        buffer.moveReaderIndex(forwardBy: 1)
        if line.readableBytesView.last == UInt8(ascii: "\r") { line = line.getSlice(at: line.readerIndex, length: line.readableBytes - 1)! }
        context.fireChannelRead(wrapInboundOut(line))
        return .continue
    }
}

struct SMTPLineTooLong: Error {}
