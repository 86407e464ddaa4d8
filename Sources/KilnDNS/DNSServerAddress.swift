import KilnCore

/// A name server to ask (`delivery.nameservers`): `127.0.0.1:5353`, `192.0.2.53` (port
/// 53), `[::1]:5353` or `::1`.
public struct DNSServerAddress: Sendable, Hashable, CustomStringConvertible {
    /// An IPv4 or IPv6 address (no brackets).
    public var host: String
    public var port: Int

    public init(host: String, port: Int = 53) {
        self.host = host
        self.port = port
    }

    /// Parses `address[:port]`; nil when the address is not an IP address or the port is
    /// not 1 to 65,535.
    public init?(_ text: String) {
        var host = Substring(text)
        var port = 53
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return nil }
            let after = host[host.index(after: close)...]
            host = host[host.index(after: host.startIndex)..<close]
            if !after.isEmpty {
                guard after.hasPrefix(":"), let p = Int(after.dropFirst()) else { return nil }
                port = p
            }
        } else if host.filter({ $0 == ":" }).count == 1, let colon = host.firstIndex(of: ":") {
            guard let p = Int(host[host.index(after: colon)...]) else { return nil }
            port = p
            host = host[..<colon]
        }
        guard (1...65535).contains(port), IPAddressBytes.parse(String(host)) != nil else { return nil }
        self.host = String(host)
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
