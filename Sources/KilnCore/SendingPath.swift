/// How a message leaves: from a dedicated source address of its pool, or through the
/// shared relay (spill-over). A typed value where the store once wrote `"shared"`.
public enum SendingPath: Hashable, Sendable, Codable, CustomStringConvertible {
    case dedicated(ip: String)
    case shared

    /// The path a stored or printed value names: `shared`, else an IP.
    public init(_ text: String) {
        self = text == "shared" ? .shared : .dedicated(ip: text)
    }

    public init(from decoder: any Decoder) throws {
        self.init(try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    /// The dedicated source address, nil for the shared relay.
    public var ip: String? {
        if case .dedicated(let ip) = self { return ip }
        return nil
    }

    public var description: String { ip ?? "shared" }
}
