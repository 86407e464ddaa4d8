import KilnCore

extension MXResolver {
    /// One address to try: a mail exchanger's name and one of its addresses.
    public struct Target: Sendable, Hashable {
        public var host: String
        public var address: String
    }

    /// The addresses of one attempt, in the order to try them (RFC 5321 §5.1): by
    /// preference, hosts of equal preference shuffled (so that they share the load), each
    /// host's addresses of the source address's family (IPv4 first when the system chooses
    /// the source).
    ///
    /// | hosts | source | order |
    /// |---|---|---|
    /// | 10 a (192.0.2.1), 20 b (192.0.2.2) | 198.51.100.7 | a, b |
    /// | 10 a, 10 b | any | a, b or b, a |
    /// | 10 a (2001:db8::1), 20 b (192.0.2.2) | 198.51.100.7 | b |
    public static func order(_ hosts: [Host], sourceIP: String?, using generator: inout some RandomNumberGenerator) -> [Target] {
        let family = sourceIP.flatMap { IPAddressBytes.parse($0)?.count }
        var ordered: [Host] = []
        for preference in Set(hosts.map(\.preference)).sorted() {
            ordered += hosts.filter { $0.preference == preference }.shuffled(using: &generator)
        }
        var targets: [Target] = []
        for host in ordered {
            let addresses = host.addresses.filter { address in
                guard let length = IPAddressBytes.parse(address)?.count else { return false }
                return family.map { $0 == length } ?? true
            }.sorted { (IPAddressBytes.parse($0)?.count ?? 0) < (IPAddressBytes.parse($1)?.count ?? 0) }
            targets += addresses.map { Target(host: host.name, address: $0) }
        }
        return targets
    }
}
