import KilnCore
import NIOCore
import NIOSSL

/// How the SMTP submission listener (RFC 6409) listens, and the limits of a session.
///
/// | setting | default | unit, source |
/// |---|---|---|
/// | `hostname` | `localhost` | the greeting and EHLO name |
/// | `maxMessageBytes` | 26 214 400 | octets as received (after dot-unstuffing, CRLF line ends); advertised as `SIZE` (RFC 1870) |
/// | `maxRecipients` | 1000 | RCPT per message; more get `452 4.5.3` (RFC 5321 §4.5.3.1.8 asks for at least 100) |
/// | `maxHeaderBytes` | 1 048 576 | octets of the header block |
/// | `maxCommandLineLength` | 4096 | octets of a command line without CRLF (RFC 5321 says 512: lenient) |
/// | `maxDataLineLength` | 65 536 | octets of one message line without CRLF (RFC 5321 says 998: lenient for unwrapped HTML); a longer line refuses the message with `500 5.5.6` |
/// | `maxConnections` | 1000 | open sessions over all listeners; more get `421 4.3.2` |
/// | `maxErrors` | 10 | 5xx replies to commands in one session before `421 4.7.0` and close |
/// | `commandTimeout` | 300 s | waiting for a command (RFC 5321 §4.5.3.2.7) |
/// | `dataTimeout` | 180 s | waiting for the next data between DATA and the final dot (§4.5.3.2.5) |
/// | `shutdownGracePeriod` | 30 s | what `stop()` gives open sessions to finish before closing them |
/// | `eventLoopThreads` | cores | the listener's own event loops |
///
/// Without `tls`, AUTH is never offered (it would send secrets in clear), so only
/// clients of the trusted networks can submit.
public struct SMTPSubmissionSettings: Sendable {
    /// One address to listen on.
    public struct Listener: Sendable, Hashable {
        public var host: String
        /// 0 for a free port (see `SMTPSubmissionServer.boundListeners`).
        public var port: Int
        /// TLS from the first byte (RFC 8314, port 465) instead of STARTTLS; needs `tls`.
        public var implicitTLS: Bool

        public init(host: String, port: Int, implicitTLS: Bool = false) {
            self.host = host
            self.port = port
            self.implicitTLS = implicitTLS
        }
    }

    /// The server's certificate and key: PEM files read at start, or a context built by
    /// the embedder.
    public struct TLS: Sendable {
        enum Source: Sendable {
            case files(certificateChain: String, privateKey: String)
            case context(NIOSSLContext)
        }
        let source: Source

        /// A PEM certificate chain (the server's certificate first) and its PEM private key.
        public static func pemFiles(certificateChain: String, privateKey: String) -> TLS {
            TLS(source: .files(certificateChain: certificateChain, privateKey: privateKey))
        }

        /// A server context built elsewhere (its own versions, ciphers, reloading).
        public static func context(_ context: NIOSSLContext) -> TLS {
            TLS(source: .context(context))
        }

        /// The context for the listener: TLS 1.2 at least when built from files.
        func makeContext() throws -> NIOSSLContext {
            switch source {
            case .context(let context):
                return context
            case .files(let chainPath, let keyPath):
                let chain = try NIOSSLCertificate.fromPEMFile(chainPath)
                let key = try NIOSSLPrivateKey(file: keyPath, format: .pem)
                var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
                configuration.minimumTLSVersion = .tlsv12
                return try NIOSSLContext(configuration: configuration)
            }
        }
    }

    /// The addresses to listen on.
    public var listeners: [Listener]
    /// The certificate for STARTTLS and implicit TLS; nil: no TLS, so no AUTH.
    public var tls: TLS?
    /// The name in the greeting, EHLO and 421 replies.
    public var hostname: String
    /// The largest message, in octets (`SIZE`).
    public var maxMessageBytes: Int
    /// Recipients per message.
    public var maxRecipients: Int
    /// The largest header block, in octets.
    public var maxHeaderBytes: Int
    /// The longest command line, in octets without CRLF.
    public var maxCommandLineLength: Int
    /// The longest message line, in octets without CRLF.
    public var maxDataLineLength: Int
    /// Open sessions over all listeners.
    public var maxConnections: Int
    /// 5xx replies to commands before the session is closed.
    public var maxErrors: Int
    /// How long a session may wait for a command.
    public var commandTimeout: Duration
    /// How long a session may wait for more data after DATA.
    public var dataTimeout: Duration
    /// What `stop()` gives open sessions to finish.
    public var shutdownGracePeriod: Duration
    /// The listener's event loop threads.
    public var eventLoopThreads: Int

    public init(listeners: [Listener], tls: TLS? = nil, hostname: String = "localhost", maxMessageBytes: Int = 26_214_400,
                maxRecipients: Int = 1000, maxHeaderBytes: Int = 1_048_576, maxCommandLineLength: Int = 4096,
                maxDataLineLength: Int = 65_536, maxConnections: Int = 1000, maxErrors: Int = 10,
                commandTimeout: Duration = .seconds(300), dataTimeout: Duration = .seconds(180),
                shutdownGracePeriod: Duration = .seconds(30), eventLoopThreads: Int = System.coreCount) {
        self.listeners = listeners
        self.tls = tls
        self.hostname = hostname
        self.maxMessageBytes = maxMessageBytes
        self.maxRecipients = maxRecipients
        self.maxHeaderBytes = maxHeaderBytes
        self.maxCommandLineLength = maxCommandLineLength
        self.maxDataLineLength = maxDataLineLength
        self.maxConnections = maxConnections
        self.maxErrors = maxErrors
        self.commandTimeout = commandTimeout
        self.dataTimeout = dataTimeout
        self.shutdownGracePeriod = shutdownGracePeriod
        self.eventLoopThreads = eventLoopThreads
    }

    /// Every problem, each with the name of its setting; empty when the settings can run.
    public func problems() -> [KilnError] {
        var found: [KilnError] = []
        func require(_ condition: Bool, _ location: String, _ message: String) {
            if !condition { found.append(KilnError(.invalidConfiguration, message, location: location)) }
        }
        require(!listeners.isEmpty, "listeners", "at least one listener is needed")
        for (index, listener) in listeners.enumerated() {
            require((0...65_535).contains(listener.port), "listeners[\(index)].port", "a port is 0 to 65535")
            require(!listener.implicitTLS || tls != nil, "listeners[\(index)].implicitTLS", "implicit TLS needs a certificate (tls)")
        }
        require(!hostname.isEmpty && !hostname.contains(where: { $0.isWhitespace || $0.asciiValue.map { $0 < 32 } ?? false }),
                "hostname", "a host name without spaces or control characters")
        require(maxMessageBytes > 0, "maxMessageBytes", "must be positive")
        require(maxRecipients > 0, "maxRecipients", "must be positive")
        require(maxHeaderBytes > 0, "maxHeaderBytes", "must be positive")
        require(maxCommandLineLength >= 512, "maxCommandLineLength", "at least 512 (RFC 5321 §4.5.3.1.4)")
        require(maxDataLineLength >= 998, "maxDataLineLength", "at least 998 (RFC 5321 §4.5.3.1.6)")
        require(maxConnections > 0, "maxConnections", "must be positive")
        require(maxErrors > 0, "maxErrors", "must be positive")
        require(commandTimeout > .zero, "commandTimeout", "must be positive")
        require(dataTimeout > .zero, "dataTimeout", "must be positive")
        require(shutdownGracePeriod >= .zero, "shutdownGracePeriod", "must not be negative")
        require(eventLoopThreads > 0, "eventLoopThreads", "must be positive")
        return found
    }
}

extension Duration {
    /// The same span as NIO's `TimeAmount`.
    var timeAmount: TimeAmount {
        let (seconds, attoseconds) = components
        return .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
