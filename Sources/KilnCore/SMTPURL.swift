/// `smtp://host:port` or `smtps://host:port`, as used in routes and the shared pool.
public struct SMTPURL: Hashable, Sendable, CustomStringConvertible {
    public var implicitTLS: Bool
    public var host: String
    public var port: Int

    public init?(_ text: String) {
        let lowered = text.lowercased()
        let rest: Substring
        if lowered.hasPrefix("smtp://") { implicitTLS = false; rest = text.dropFirst(7) }
        else if lowered.hasPrefix("smtps://") { implicitTLS = true; rest = text.dropFirst(8) }
        else { return nil }
        let hostPort = rest.hasSuffix("/") ? rest.dropLast() : rest
        guard !hostPort.contains("/"), !hostPort.contains("@") else { return nil }
        if hostPort.hasPrefix("["), let close = hostPort.firstIndex(of: "]") {
            host = String(hostPort[hostPort.index(after: hostPort.startIndex)..<close])
            let after = hostPort[hostPort.index(after: close)...]
            if after.isEmpty { port = implicitTLS ? 465 : 25 }
            else if after.hasPrefix(":"), let p = Int(after.dropFirst()) { port = p } else { return nil }
        } else if let colon = hostPort.lastIndex(of: ":") {
            host = String(hostPort[..<colon])
            guard let p = Int(hostPort[hostPort.index(after: colon)...]) else { return nil }
            port = p
        } else {
            host = String(hostPort)
            port = implicitTLS ? 465 : 25
        }
        guard !host.isEmpty, (1...65535).contains(port) else { return nil }
    }

    public var description: String {
        let h = host.contains(":") ? "[\(host)]" : host
        return "\(implicitTLS ? "smtps" : "smtp")://\(h):\(port)"
    }
}
