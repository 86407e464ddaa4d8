import KilnCore
import KilnDNS
import NIOCore
import NIOPosix
import Synchronization

/// An authoritative-looking name server on loopback (UDP and TCP on the same port), for
/// tests: records are set and changed while it runs, and it answers like a recursive
/// resolver would (CNAMEs followed, NXDOMAIN and NODATA with an SOA for negative caching,
/// SERVFAIL or silence on request, truncation over UDP past 512 bytes, RFC 1035 §4.2.1).
///
/// ```swift
/// let dns = try await LoopbackDNSServer.start()
/// dns.set("example.test", .mx, [.mx(preference: 10, exchange: "mx1.example.test")], ttl: 1)
/// dns.set("mx1.example.test", .a, [.address("127.0.0.21")])
/// // delivery.nameservers: [dns.address]
/// ```
public final class LoopbackDNSServer: Sendable {
    public enum Behaviour: Sendable, Hashable {
        case serverFailure
        /// No answer at all (the client times out).
        case silence
        /// The normal answer plus a record that does not belong to the name asked for.
        case extraAnswer(DNSMessage.Record)
    }

    struct Key: Hashable {
        var name: String
        var type: DNSMessage.RecordType
    }

    struct Zone {
        var records: [Key: [DNSMessage.Record]] = [:]
        var behaviours: [String: Behaviour] = [:]
        var queries: [Key: Int] = [:]
    }

    public let host: String
    public let port: Int
    let zone = Mutex(Zone())
    let channels: Mutex<[any Channel]> = Mutex([])
    let group: MultiThreadedEventLoopGroup

    init(host: String, port: Int, group: MultiThreadedEventLoopGroup) {
        self.host = host
        self.port = port
        self.group = group
    }

    /// `host:port`, as `delivery.nameservers` takes it.
    public var address: String { "\(host):\(port)" }

    /// Starts a server on a free port of `host`: a port free for UDP may be taken for TCP
    /// (an outgoing connection's ephemeral port), so another is tried then.
    public static func start(host: String = "127.0.0.1") async throws -> LoopbackDNSServer {
        var lastError: (any Error)?
        for _ in 0..<20 {
            do {
                return try await startOnce(host: host)
            } catch {
                lastError = error
            }
        }
        throw lastError!
    }

    static func startOnce(host: String) async throws -> LoopbackDNSServer {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let box = DNSServerBox()
        let udp: any Channel
        do {
            udp = try await DatagramBootstrap(group: group)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(DatagramHandler(server: box)) }
                }
                .bind(host: host, port: 0).get()
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
        let port = udp.localAddress?.port ?? 0
        let server = LoopbackDNSServer(host: host, port: port, group: group)
        box.server.withLock { $0 = server }
        server.channels.withLock { $0.append(udp) }
        do {
            let tcp = try await ServerBootstrap(group: group)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(LengthPrefixDecoder()))
                        try channel.pipeline.syncOperations.addHandler(StreamHandler(server: server))
                    }
                }
                .bind(host: host, port: port).get()
            server.channels.withLock { $0.append(tcp) }
        } catch {
            await server.shutdown()
            throw error
        }
        return server
    }

    /// Replaces the records of `name` and `type` (an empty list removes them).
    public func set(_ name: String, _ type: DNSMessage.RecordType, _ data: [DNSMessage.RecordData], ttl: UInt32 = 300) {
        let key = Key(name: DNSMessage.normalized(name), type: type)
        zone.withLock { $0.records[key] = data.isEmpty ? nil : data.map { DNSMessage.Record(name: key.name, type: type, ttl: ttl, data: $0) } }
    }

    /// Makes every query for `name` fail (nil: answer normally again).
    public func setBehaviour(_ name: String, _ behaviour: Behaviour?) {
        zone.withLock { $0.behaviours[DNSMessage.normalized(name)] = behaviour }
    }

    /// Queries answered or dropped for `name` and `type`.
    public func queries(_ name: String, _ type: DNSMessage.RecordType) -> Int {
        zone.withLock { $0.queries[Key(name: DNSMessage.normalized(name), type: type), default: 0] }
    }

    public func shutdown() async {
        let channels = self.channels.withLock { channels in
            defer { channels.removeAll() }
            return channels
        }
        for channel in channels { try? await channel.close() }
        try? await group.shutdownGracefully()
    }

    /// The answer to a query, or nil to stay silent.
    func answer(_ bytes: [UInt8], overTCP: Bool) -> [UInt8]? {
        guard let query = try? DNSMessage(parsing: bytes), let question = query.questions.first else { return nil }
        let name = DNSMessage.normalized(question.name)
        let (behaviour, answers, nameExists) = zone.withLock { zone -> (Behaviour?, [DNSMessage.Record], Bool) in
            zone.queries[Key(name: name, type: question.type), default: 0] += 1
            var answers: [DNSMessage.Record] = []
            var current = name
            for _ in 0..<8 {
                if let direct = zone.records[Key(name: current, type: question.type)] {
                    answers += direct
                    break
                }
                guard question.type != .cname, let alias = zone.records[Key(name: current, type: .cname)]?.first,
                      case .name(let target) = alias.data else { break }
                answers.append(alias)
                current = target
            }
            let exists = zone.records.keys.contains { $0.name == name }
            return (zone.behaviours[name], answers, exists)
        }
        if behaviour == .silence { return nil }
        var reply = DNSMessage(id: query.id, isResponse: true, recursionDesired: query.recursionDesired, questions: [question])
        if behaviour == .serverFailure {
            reply.responseCode = .serverFailure
        } else if answers.isEmpty {
            reply.responseCode = nameExists ? .noError : .nameError
            reply.authority = [DNSMessage.Record(name: name, type: .soa, ttl: 60, data: .soa(minimum: 60))]
        } else {
            reply.answers = answers
        }
        if case .extraAnswer(let foreign) = behaviour { reply.answers.append(foreign) }
        guard var encoded = try? reply.encoded() else { return nil }
        if !overTCP, encoded.count > 512 {
            reply.answers = []
            reply.isTruncated = true
            encoded = (try? reply.encoded()) ?? []
        }
        return encoded
    }
}

/// Lets the datagram handler reach the server made after the bind.
final class DNSServerBox: Sendable {
    let server = Mutex<LoopbackDNSServer?>(nil)
}

final class DatagramHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>
    let box: DNSServerBox
    init(server box: DNSServerBox) { self.box = box }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard let server = box.server.withLock({ $0 }),
              let reply = server.answer(Array(envelope.data.readableBytesView), overTCP: false) else { return }
        let out = AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: context.channel.allocator.buffer(bytes: reply))
        context.writeAndFlush(wrapOutboundOut(out), promise: nil)
    }
}

/// DNS over TCP: each message after a two-byte length (RFC 1035 §4.2.2).
struct LengthPrefixDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer
    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt16.self),
              buffer.readableBytes >= 2 + Int(length) else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 2)
        context.fireChannelRead(wrapInboundOut(buffer.readSlice(length: Int(length))!))
        return .continue
    }
}

final class StreamHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let server: LoopbackDNSServer
    init(server: LoopbackDNSServer) { self.server = server }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let reply = server.answer(Array(unwrapInboundIn(data).readableBytesView), overTCP: true) else { return }
        var out = context.channel.allocator.buffer(capacity: reply.count + 2)
        out.writeInteger(UInt16(reply.count))
        out.writeBytes(reply)
        context.writeAndFlush(wrapOutboundOut(out), promise: nil)
    }
}
