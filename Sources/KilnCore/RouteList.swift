/// The value of a `delivery.routes` entry: one URL, or a list tried in order within one
/// attempt, like MX hosts (`"gmail": ["smtp://127.0.0.1:2691", "smtp://127.0.0.1:2694"]`).
/// Written as a string when it holds one URL.
public struct RouteList: Codable, Sendable, Equatable, ExpressibleByStringLiteral, ExpressibleByArrayLiteral {
    public var urls: [String]

    public init(_ urls: [String]) { self.urls = urls }
    public init(_ url: String) { urls = [url] }
    public init(stringLiteral value: String) { urls = [value] }
    public init(arrayLiteral elements: String...) { urls = elements }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let url = try? container.decode(String.self) {
            urls = [url]
        } else {
            urls = try container.decode([String].self)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        if urls.count == 1 { try container.encode(urls[0]) } else { try container.encode(urls) }
    }
}
