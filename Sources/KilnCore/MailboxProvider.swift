/// Where a recipient's mail lands: `gmail`, `microsoft`, `yahoo`, `apple`, ..., `other`,
/// or for an unrecognised domain its MX site (`mx:example.net`). Lower-case identifiers
/// used in configs, routes, scenarios and reports.
public struct MailboxProvider: Hashable, Sendable, Codable, Comparable, CustomStringConvertible,
    ExpressibleByStringLiteral
{
    public let id: String
    public init(_ id: String) { self.id = id.lowercased() }
    public init(stringLiteral value: String) { self.init(value) }
    public init(from decoder: any Decoder) throws { self.init(try decoder.singleValueContainer().decode(String.self)) }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(id)
    }
    public var description: String { id }
    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.id < rhs.id }

    public static let gmail: Self = "gmail"
    public static let microsoft: Self = "microsoft"
    public static let yahoo: Self = "yahoo"
    public static let apple: Self = "apple"
    public static let other: Self = "other"

    /// The provider a recipient domain belongs to by the built-in table, or nil when the
    /// table does not know it (then classify by MX with `classify(mxHosts:)`).
    ///
    /// | domain | provider |
    /// |---|---|
    /// | gmail.com, googlemail.com | gmail |
    /// | outlook.com, hotmail.co.uk, live.fr, msn.com | microsoft |
    /// | yahoo.co.jp, ymail.com, aol.com | yahoo |
    /// | icloud.com, me.com, mac.com | apple |
    /// | web.de, gmx.net | gmx |
    public static func classify(domain: String) -> MailboxProvider? {
        let domain = domain.lowercased()
        if let provider = DomainTable.exact[domain] { return provider }
        // Country variants: yahoo.co.uk, hotmail.fr, outlook.com.br, gmx.at, ...
        let labels = domain.split(separator: ".")
        guard let first = labels.first, labels.count >= 2 else { return nil }
        guard let provider = DomainTable.countryVariantBrands[String(first)] else { return nil }
        let rest = labels.dropFirst()
        let isCountrySuffix: Bool
        switch rest.count {
        case 1: isCountrySuffix = rest.first!.count == 2 || rest.first! == "com"
        case 2: isCountrySuffix = ["co", "com", "ne", "or"].contains(rest.first!) && rest.last!.count == 2
        default: isCountrySuffix = false
        }
        return isCountrySuffix ? provider : nil
    }

    /// The provider of a domain by its MX hosts (any of them), else its MX site: the
    /// registered domain of the most preferred MX host (`mx:example.net`), so that
    /// domains hosted by one operator share a lane.
    public static func classify(mxHosts: [String]) -> MailboxProvider {
        let hosts = mxHosts.map { $0.lowercased().trimmingSuffix(".") }
        for host in hosts {
            for (suffix, provider) in DomainTable.mxSuffixes where host == suffix || host.hasSuffix("." + suffix) {
                return provider
            }
        }
        guard let first = hosts.first, !first.isEmpty else { return .other }
        return MailboxProvider("mx:" + registeredDomain(of: first))
    }

    /// The last two labels of a host, three when the second-level label is a common
    /// public suffix part (`co.uk`, `com.br`).
    static func registeredDomain(of host: String) -> String {
        let labels = host.split(separator: ".")
        guard labels.count > 2 else { return host }
        let secondLevel = labels[labels.count - 2]
        let take = ["co", "com", "net", "org", "ne", "or", "ac", "gov", "edu"].contains(secondLevel) ? 3 : 2
        return labels.suffix(take).joined(separator: ".")
    }
}

enum DomainTable {
    static let exact: [String: MailboxProvider] = {
        var table: [String: MailboxProvider] = [:]
        func add(_ provider: MailboxProvider, _ domains: [String]) { for d in domains { table[d] = provider } }
        add(.gmail, ["gmail.com", "googlemail.com", "google.com"])
        add(.microsoft, ["msn.com", "passport.com", "windowslive.com", "outlook.com", "hotmail.com", "live.com"])
        add(.yahoo, ["ymail.com", "rocketmail.com", "aol.com", "aim.com", "verizon.net", "yahoo.com",
                     "aol.co.uk", "aol.de", "aol.fr", "love.com", "wow.com", "games.com", "cs.com"])
        add(.apple, ["icloud.com", "me.com", "mac.com"])
        add("comcast", ["comcast.net", "xfinity.com"])
        add("gmx", ["gmx.net", "gmx.de", "gmx.at", "gmx.ch", "gmx.com", "gmx.us", "gmx.fr", "web.de", "mail.com"])
        add("orange", ["orange.fr", "wanadoo.fr", "orange.com"])
        add("mailru", ["mail.ru", "inbox.ru", "list.ru", "bk.ru", "internet.ru"])
        add("yandex", ["yandex.ru", "yandex.com", "ya.ru", "yandex.ua", "yandex.by", "yandex.kz"])
        add("qq", ["qq.com", "foxmail.com", "vip.qq.com"])
        add("att", ["att.net", "sbcglobal.net", "bellsouth.net", "pacbell.net", "ameritech.net", "flash.net",
                    "nvbell.net", "prodigy.net", "snet.net", "swbell.net", "wans.net"])
        add("tonline", ["t-online.de", "magenta.de"])
        add("libero", ["libero.it", "iol.it", "inwind.it", "blu.it"])
        add("cox", ["cox.net"])
        add("charter", ["charter.net", "spectrum.net"])
        add("free", ["free.fr"])
        add("sfr", ["sfr.fr", "neuf.fr"])
        add("laposte", ["laposte.net"])
        add("naver", ["naver.com"])
        add("netease", ["163.com", "126.com", "yeah.net"])
        add("seznam", ["seznam.cz", "email.cz"])
        add("proton", ["proton.me", "protonmail.com", "pm.me"])
        add("zoho", ["zoho.com", "zohomail.com"])
        add("rambler", ["rambler.ru"])
        add("virgilio", ["virgilio.it", "tim.it"])
        add("onet", ["onet.pl", "op.pl", "poczta.onet.pl"])
        add("wp", ["wp.pl"])
        add("shaw", ["shaw.ca"])
        add("rogers", ["rogers.com"])
        add("bigpond", ["bigpond.com", "bigpond.net.au", "telstra.com"])
        return table
    }()

    /// Brands whose country variants share the provider: `yahoo.de`, `hotmail.co.uk`.
    static let countryVariantBrands: [String: MailboxProvider] = [
        "yahoo": .yahoo, "hotmail": .microsoft, "outlook": .microsoft, "live": .microsoft,
        "windowslive": .microsoft, "msn": .microsoft, "gmx": "gmx", "aol": .yahoo,
    ]

    /// MX host suffixes of the large providers (hosted domains: Google Workspace,
    /// Microsoft 365, Yahoo Small Business, iCloud custom domains, ...).
    static let mxSuffixes: [(String, MailboxProvider)] = [
        ("google.com", .gmail), ("googlemail.com", .gmail), ("aspmx.l.google.com", .gmail),
        ("mail.protection.outlook.com", .microsoft), ("outlook.com", .microsoft), ("hotmail.com", .microsoft),
        ("yahoodns.net", .yahoo), ("yahoo.com", .yahoo), ("aol.com", .yahoo),
        ("icloud.com", .apple), ("me.com", .apple),
        ("comcast.net", "comcast"), ("gmx.net", "gmx"), ("web.de", "gmx"), ("orange.fr", "orange"),
        ("mail.ru", "mailru"), ("yandex.net", "yandex"), ("yandex.ru", "yandex"), ("qq.com", "qq"),
        ("t-online.de", "tonline"), ("libero.it", "libero"), ("zoho.com", "zoho"), ("protonmail.ch", "proton"),
    ]
}

extension String {
    func trimmingSuffix(_ suffix: String) -> String {
        hasSuffix(suffix) ? String(dropLast(suffix.count)) : self
    }
}
