import Foundation
import KilnCore

/// A stub resolver: asks recursive name servers over UDP, and again over TCP when the
/// answer is truncated (RFC 1035 §4.2, RFC 7766). The servers are `delivery.nameservers`,
/// else the `nameserver` lines of /etc/resolv.conf. Each query blocks on its socket, so it
/// runs on a dispatch queue, never on the cooperative pool.
public final class DNSClient: Sendable {
    public let servers: [DNSServerAddress]
    /// How long to wait for one server's answer.
    public let timeout: Duration
    private let queue = DispatchQueue(label: "kiln-dns", attributes: .concurrent)

    public init(servers: [DNSServerAddress], timeout: Duration = .seconds(3)) {
        self.servers = servers.isEmpty ? Self.systemServers() : servers
        self.timeout = timeout
    }

    /// Why a query has no answer.
    public struct Failure: Error, Sendable, Hashable, CustomStringConvertible {
        public var description: String
    }

    /// Asks each server in turn until one answers (any response code is an answer).
    public func query(_ name: String, type: DNSMessage.RecordType) async -> Result<DNSMessage, Failure> {
        await withCheckedContinuation { continuation in
            queue.async { continuation.resume(returning: self.querySynchronously(name, type: type)) }
        }
    }

    func querySynchronously(_ name: String, type: DNSMessage.RecordType) -> Result<DNSMessage, Failure> {
        var generator = SystemRandomNumberGenerator()
        let question = DNSMessage.Question(name: name, type: type)
        var problems: [String] = []
        for server in servers {
            let id = UInt16.random(in: 0...UInt16.max, using: &generator)
            let request: [UInt8]
            do {
                request = try DNSMessage(id: id, questions: [question]).encoded()
            } catch {
                return .failure(Failure(description: "cannot ask for \(name): \(error)"))
            }
            do {
                var answer = try exchange(request, id: id, question: question, server: server, overTCP: false)
                if answer.isTruncated { answer = try exchange(request, id: id, question: question, server: server, overTCP: true) }
                return .success(answer)
            } catch {
                problems.append("\(server): \(error.description)")
            }
        }
        return .failure(Failure(description: "no answer for \(name) \(type): " + problems.joined(separator: "; ")))
    }

    func exchange(_ request: [UInt8], id: UInt16, question: DNSMessage.Question, server: DNSServerAddress, overTCP: Bool) throws(Failure) -> DNSMessage {
        guard let address = SocketAddress(host: server.host, port: server.port) else { throw Failure(description: "not an address") }
        let fd = socket(address.family, overTCP ? Int32(SOCK_STREAM.rawValue) : Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let deadline = ContinuousClock.now + timeout
        var noDelay: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &noDelay, socklen_t(MemoryLayout<Int32>.size))
        guard address.withSockaddr({ connect(fd, $0, $1) }) == 0 else { throw Failure(description: "connect: \(String(cString: strerror(errno)))") }
        if overTCP {
            let framed = [UInt8(request.count >> 8), UInt8(request.count & 0xFF)] + request
            guard framed.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == framed.count else {
                throw Failure(description: "send: \(String(cString: strerror(errno)))")
            }
            let header = try receive(fd, exactly: 2, deadline: deadline)
            let body = try receive(fd, exactly: Int(header[0]) << 8 | Int(header[1]), deadline: deadline)
            return try parse(body, id: id, question: question)
        }
        guard request.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, 0) }) == request.count else {
            throw Failure(description: "send: \(String(cString: strerror(errno)))")
        }
        // Datagrams that are not the answer (a late reply to an earlier query) are dropped.
        while true {
            try wait(fd, until: deadline)
            var buffer = [UInt8](repeating: 0, count: 65535)
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { throw Failure(description: "recv: \(n == 0 ? "closed" : String(cString: strerror(errno)))") }
            if let answer = try? parse(Array(buffer.prefix(n)), id: id, question: question) { return answer }
        }
    }

    func parse(_ bytes: [UInt8], id: UInt16, question: DNSMessage.Question) throws(Failure) -> DNSMessage {
        let message: DNSMessage
        do {
            message = try DNSMessage(parsing: bytes)
        } catch {
            throw Failure(description: "malformed answer: \(error)")
        }
        guard message.isResponse, message.id == id,
              message.questions.first.map({ $0.type == question.type && $0.name == DNSMessage.normalized(question.name) }) ?? false else {
            throw Failure(description: "an answer to another question")
        }
        return message
    }

    func wait(_ fd: Int32, until deadline: ContinuousClock.Instant) throws(Failure) {
        while true {
            let left = deadline - ContinuousClock.now
            guard left > .zero else { throw Failure(description: "timed out") }
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let milliseconds = Int32(clamping: left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000 + 1)
            let ready = poll(&pfd, 1, milliseconds)
            if ready > 0 { return }
            if ready < 0 && errno != EINTR { throw Failure(description: "poll: \(String(cString: strerror(errno)))") }
        }
    }

    func receive(_ fd: Int32, exactly count: Int, deadline: ContinuousClock.Instant) throws(Failure) -> [UInt8] {
        var bytes: [UInt8] = []
        while bytes.count < count {
            try wait(fd, until: deadline)
            var buffer = [UInt8](repeating: 0, count: count - bytes.count)
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { throw Failure(description: "recv: \(n == 0 ? "closed" : String(cString: strerror(errno)))") }
            bytes += buffer.prefix(n)
        }
        return bytes
    }

    /// The `nameserver` lines of /etc/resolv.conf (127.0.0.1 when there are none, as libc
    /// does).
    static func systemServers() -> [DNSServerAddress] {
        let text = (try? String(contentsOfFile: "/etc/resolv.conf", encoding: .utf8)) ?? ""
        let servers = text.split(separator: "\n").compactMap { line -> DNSServerAddress? in
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count >= 2, fields[0] == "nameserver" else { return nil }
            let host = fields[1].split(separator: "%").first.map(String.init) ?? ""
            return IPAddressBytes.parse(host) != nil ? DNSServerAddress(host: host) : nil
        }
        return servers.isEmpty ? [DNSServerAddress(host: "127.0.0.1")] : servers
    }
}

/// Answers for the sender-authentication checks (`kiln identity check`).
extension DNSClient: DNSLookups {
    public func lookup(_ name: String, _ type: DNSMessage.RecordType) async -> DNSLookupResult {
        switch await query(name, type: type) {
        case .failure(let failure):
            return .failure(failure.description)
        case .success(let message):
            if message.responseCode == .nameError { return .nothing }
            guard message.responseCode == .noError else { return .failure("the name server answered RCODE \(message.responseCode.rawValue)") }
            let records = message.answers.filter { $0.type == type }.map(\.data)
            return records.isEmpty ? .nothing : .records(records)
        }
    }
}

/// A sockaddr for an IPv4 or IPv6 address and port.
struct SocketAddress {
    var storage = sockaddr_storage()
    var length: socklen_t
    var family: Int32

    init?(host: String, port: Int) {
        var v4 = sockaddr_in()
        var v6 = sockaddr_in6()
        if inet_pton(AF_INET, host, &v4.sin_addr) == 1 {
            v4.sin_family = sa_family_t(AF_INET)
            v4.sin_port = in_port_t(UInt16(port).bigEndian)
            family = AF_INET
            length = socklen_t(MemoryLayout<sockaddr_in>.size)
            withUnsafeBytes(of: v4) { bytes in withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: bytes) } }
        } else if inet_pton(AF_INET6, host, &v6.sin6_addr) == 1 {
            v6.sin6_family = sa_family_t(AF_INET6)
            v6.sin6_port = in_port_t(UInt16(port).bigEndian)
            family = AF_INET6
            length = socklen_t(MemoryLayout<sockaddr_in6>.size)
            withUnsafeBytes(of: v6) { bytes in withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: bytes) } }
        } else {
            return nil
        }
    }

    func withSockaddr<T>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> T) -> T {
        withUnsafeBytes(of: storage) { body($0.baseAddress!.assumingMemoryBound(to: sockaddr.self), length) }
    }
}
