import KilnCore
import KilnDNS

extension MXResolver {
    /// The hops of one attempt: the addresses in `order(_:sourceIP:using:)`'s order, as
    /// SMTP URLs on `port`, at most `limit` in all (Postfix's `smtp_mx_address_limit` is
    /// 5). A host whose name makes no SMTP URL is left out.
    public static func hops(_ hosts: [Host], port: Int, sourceIP: String?, limit: Int = 5,
                            using generator: inout some RandomNumberGenerator) -> [SMTPHop] {
        let hops = order(hosts, sourceIP: sourceIP, using: &generator).lazy.compactMap { target in
            SMTPURL("smtp://\(target.host):\(port)").map { SMTPHop(url: $0, address: target.address) }
        }
        return Array(hops.prefix(limit))
    }
}
