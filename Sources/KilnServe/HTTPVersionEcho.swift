import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1

/// An HTTP/1.0 client is answered in HTTP/1.0, and its connection is closed after the
/// response unless it asked to keep it alive (RFC 9112 §2.6 and §9.3; RFC 1945 §1.3).
/// Hummingbird speaks HTTP/1.1 to everyone and keeps every connection open, which an
/// HTTP/1.0 client without keep-alive waits on for ever.
///
/// Sits between NIO's HTTP/1 decoder and Hummingbird's HTTP types codec, where the
/// request's version is still known: it remembers each request's version in order
/// (requests may be pipelined), marks a closing HTTP/1.0 request `Connection: close`
/// (Hummingbird then ends the connection after answering it) and writes the answer's
/// status line in the request's version.
final class HTTPVersionEchoHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    /// The version and keep-alive of each request not yet fully answered, oldest first.
    private var requests: [(version: HTTPVersion, keepAlive: Bool)] = []

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(var head) = unwrapInboundIn(data) else {
            context.fireChannelRead(data)
            return
        }
        let keepAlive = head.isKeepAlive
        requests.append((head.version, keepAlive))
        if head.version == .http1_0, !keepAlive {
            head.headers.replaceOrAdd(name: "connection", value: "close")
        }
        context.fireChannelRead(wrapInboundOut(.head(head)))
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(var head) where requests.first?.version == .http1_0:
            head.version = .http1_0
            head.headers.replaceOrAdd(name: "connection", value: requests[0].keepAlive ? "keep-alive" : "close")
            context.write(wrapOutboundOut(.head(head)), promise: promise)
        case .end:
            if !requests.isEmpty { requests.removeFirst() }
            context.write(data, promise: promise)
        default:
            context.write(data, promise: promise)
        }
    }
}

/// Hummingbird's HTTP/1 child channel with `HTTPVersionEchoHandler` in its pipeline.
struct VersionEchoingHTTP1Channel: ServerChildChannel {
    typealias Value = HTTP1Channel.Value
    let http1: HTTP1Channel

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        http1.setup(channel: channel, logger: logger).flatMapThrowing { value in
            let operations = channel.pipeline.syncOperations
            let decoder = try operations.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
            try operations.addHandler(HTTPVersionEchoHandler(), position: .after(decoder))
            return value
        }
    }

    func handle(value: Value, logger: Logger) async {
        await http1.handle(value: value, logger: logger)
    }
}

extension HTTPServerBuilder {
    /// HTTP/1.1 with `idleTimeout`, answering HTTP/1.0 clients in HTTP/1.0.
    static func http1VersionEchoing(idleTimeout: TimeAmount) -> HTTPServerBuilder {
        HTTPServerBuilder { responder in
            VersionEchoingHTTP1Channel(http1: HTTP1Channel(responder: responder, configuration: .init(idleTimeout: idleTimeout)))
        }
    }
}
