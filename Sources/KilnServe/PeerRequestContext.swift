import Hummingbird
import NIOCore

/// A request context that knows the client's address, which the injection API needs to
/// authenticate (trusted networks, lockouts per address). Build the router with it:
/// ```swift
/// let router = Hummingbird.Router(context: PeerRequestContext.self)
/// InjectionEndpoint(backend: gate).addRoutes(to: router)
/// ```
/// It conforms to Hummingbird's `RemoteAddressRequestContext`, so the tracing middleware
/// records the address too.
public struct PeerRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The connected client (no proxy header is believed).
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = CoreRequestContextStorage(source: source)
        remoteAddress = source.channel.remoteAddress
    }
}

extension RemoteAddressRequestContext {
    /// The client's IP address without its port, as `SubmissionBackend` takes it; an IPv4
    /// client of a dual-stack socket (`::ffff:192.0.2.1`) is given as IPv4. Empty for a
    /// Unix socket or an unknown address.
    var peer: String {
        guard let address = remoteAddress?.ipAddress else { return "" }
        let mapped = "::ffff:"
        if address.lowercased().hasPrefix(mapped), address.dropFirst(mapped.count).contains(".") {
            return String(address.dropFirst(mapped.count))
        }
        return address
    }
}
