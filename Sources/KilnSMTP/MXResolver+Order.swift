import KilnCore

extension MXResolver {
    /// The hosts of one attempt, in the order to try them (RFC 5321 §5.1): by preference,
    /// hosts of equal preference shuffled (so that they share the load), each host's
    /// addresses of the source address's family (IPv4 first when the system chooses the
    /// source), at most `limit` in all (Postfix's `smtp_mx_address_limit` is 5).
    ///
    /// | hosts | source | hops |
    /// |---|---|---|
    /// | 10 a (192.0.2.1), 20 b (192.0.2.2) | 198.51.100.7 | a, b |
    /// | 10 a, 10 b | any | a, b or b, a |
    /// | 10 a (2001:db8::1), 20 b (192.0.2.2) | 198.51.100.7 | b |
    public static func hops(_ hosts: [Host], port: Int, sourceIP: String?, limit: Int = 5,
                            using generator: inout some RandomNumberGenerator) -> [SMTPHop] {
        let family = sourceIP.flatMap { IPAddressBytes.parse($0)?.count }
        var ordered: [Host] = []
        for preference in Set(hosts.map(\.preference)).sorted() {
            ordered += hosts.filter { $0.preference == preference }.shuffled(using: &generator)
        }
        var hops: [SMTPHop] = []
        for host in ordered {
            guard let url = SMTPURL("smtp://\(host.name):\(port)") else { continue }
            let addresses = host.addresses.filter { address in
                guard let length = IPAddressBytes.parse(address)?.count else { return false }
                return family.map { $0 == length } ?? true
            }.sorted { (IPAddressBytes.parse($0)?.count ?? 0) < (IPAddressBytes.parse($1)?.count ?? 0) }
            for address in addresses where hops.count < limit { hops.append(SMTPHop(url: url, address: address)) }
        }
        return hops
    }
}
