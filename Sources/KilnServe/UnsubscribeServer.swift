import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import Glibc

/// What keeps the unsubscribe endpoint answering under a flood of slow or idle clients
/// (1,100 idle connections used to exhaust the file descriptors and block every real
/// unsubscribe).
///
/// | limit | default | meaning |
/// | --- | --- | --- |
/// | `headerTimeout` | 10 s | a connection that has not sent a complete request head this long after it opened, or after its last response, is closed; so is one idle this long (Hummingbird's `idleTimeout`, which only counts decoded requests: trickling header bytes does not keep a connection open) |
/// | `maxConnections` | 4,096 | open connections at most; past it the server stops accepting until one closes (they wait in the listen backlog) |
public struct UnsubscribeServerLimits: Sendable {
    public var headerTimeout: Duration
    public var maxConnections: Int

    public init(headerTimeout: Duration = .seconds(10), maxConnections: Int = 4096) {
        self.headerTimeout = headerTimeout
        self.maxConnections = maxConnections
    }

    /// The HTTP/1.1 server with the header and idle timeout (HTTP/1.0 clients are
    /// answered in HTTP/1.0: `HTTPVersionEchoHandler`).
    public var server: HTTPServerBuilder {
        let (seconds, attoseconds) = headerTimeout.components
        return .http1VersionEchoing(idleTimeout: .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000))
    }

    /// An application configuration listening on `address` with the connection cap.
    public func configuration(address: BindAddress, logger: Logger) -> ApplicationConfiguration {
        ApplicationConfiguration(address: address, availableConnectionsDelegate: MaximumAvailableConnections(maxConnections, logger: logger))
    }

    /// Raises this process's open-file limit to its hard limit (where the system allows)
    /// and returns `maxConnections` lowered to fit it, keeping 64 descriptors for the
    /// store, logs and the listening socket.
    public func fittingOpenFileLimit() -> UnsubscribeServerLimits {
        var limits = self
        var files = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &files) == 0 {
            if files.rlim_cur < files.rlim_max {
                var raised = files
                raised.rlim_cur = min(files.rlim_max, 1 << 20)
                if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { files = raised }
            }
            limits.maxConnections = max(1, min(maxConnections, Int(files.rlim_cur) - 64))
        }
        return limits
    }
}
