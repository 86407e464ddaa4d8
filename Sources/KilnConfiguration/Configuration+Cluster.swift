import KilnCore

/// The store's settings and the nodes of a cluster: checks, and the configuration a node
/// sends with (its own IPs only).
extension Configuration {
    /// The store's TLS modes.
    public static let storeTLSModes = ["disable", "prefer", "require", "verify"]

    func storeProblems() -> [ConfigurationProblem] {
        var problems: [ConfigurationProblem] = []
        func check(_ condition: Bool, _ path: String, _ message: String) {
            if !condition { problems.append(ConfigurationProblem(path: path, message: message)) }
        }
        switch (store.path, store.url) {
        case (nil, nil):
            check(false, "store", "give path (a SQLite file) or url (a PostgreSQL database)")
        case (.some, .some):
            check(false, "store", "give path or url, not both")
        case (.some(let path), nil):
            check(!path.isEmpty, "store.path", "must not be empty")
            for (key, value) in [("passwordEnv", store.passwordEnv), ("passwordFile", store.passwordFile), ("tls", store.tls), ("caFile", store.caFile)] {
                check(value == nil, "store.\(key)", "applies to a PostgreSQL url, not a SQLite path")
            }
        case (nil, .some(let url)):
            let lower = url.lowercased()
            check(lower.hasPrefix("postgres://") || lower.hasPrefix("postgresql://"), "store.url", "must be postgres://user@host:port/database")
            if let at = url.firstIndex(of: "@"), let scheme = url.range(of: "://") {
                check(!url[scheme.upperBound..<at].contains(":"), "store.url", "must not hold a password: name it with store.passwordEnv or store.passwordFile")
            }
            check(!(store.passwordEnv != nil && store.passwordFile != nil), "store", "give passwordEnv or passwordFile, not both")
            if let tls = store.tls {
                check(Self.storeTLSModes.contains(tls), "store.tls", "must be \(Self.storeTLSModes.joined(separator: ", "))")
            }
            check(store.caFile == nil || store.tls == "verify", "store.caFile", "is used with tls 'verify' only")
        }
        if let seconds = store.leaseSeconds {
            check((5...3_600).contains(seconds), "store.leaseSeconds", "must be between 5 and 3600")
        }
        if let nodes {
            check(store.url != nil, "nodes", "nodes share a PostgreSQL store: set store.url")
            check(!nodes.isEmpty, "nodes", "at least one node is required when nodes are given")
            var owner: [String: String] = [:]
            for (i, node) in nodes.enumerated() {
                check(!node.name.isEmpty && node.name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) },
                      "nodes[\(i)].name", "must be letters, digits, '-', '_' or '.'")
                for (j, ip) in node.ips.enumerated() {
                    if let other = owner[ip] {
                        check(false, "nodes[\(i)].ips[\(j)]", "\(ip) already belongs to node '\(other)': each pool IP belongs to exactly one node")
                    }
                    owner[ip] = node.name
                    check(pools.contains { $0.ips.contains(ip) }, "nodes[\(i)].ips[\(j)]", "\(ip) is in no pool")
                }
            }
            check(Set(nodes.map(\.name)).count == nodes.count, "nodes", "names must be distinct")
            for (i, pool) in pools.enumerated() {
                for (j, ip) in pool.ips.enumerated() where owner[ip] == nil {
                    check(false, "pools[\(i)].ips[\(j)]", "\(ip) belongs to no node: each pool IP belongs to exactly one node")
                }
            }
        }
        return problems
    }

    /// The node named `name`, if the configuration has it.
    public func node(named name: String) -> Node? { nodes?.first { $0.name == name } }

    /// The configuration node `name` sends with: every pool keeps only the node's IPs
    /// (its IP bounds clamped to them). Pools left without an IP stay, empty: their
    /// configuration sets are not this node's to send (`setsWithoutIPs`).
    public func restricted(toNode name: String) -> Configuration {
        guard let node = node(named: name) else { return self }
        var copy = self
        let own = Set(node.ips)
        for i in copy.pools.indices {
            let ips = copy.pools[i].ips.filter { own.contains($0) }
            copy.pools[i].ips = ips
            if let maxIPs = copy.pools[i].maxIPs { copy.pools[i].maxIPs = min(maxIPs, max(ips.count, 1)) }
            if let minIPs = copy.pools[i].minIPs { copy.pools[i].minIPs = min(minIPs, max(ips.count, 1)) }
        }
        return copy
    }

    /// Configuration sets whose pool has no IP (on this node): they are left to other nodes.
    public var setsWithoutIPs: Set<String> {
        Set(configurationSets.filter { set in pool(named: set.pool)?.ips.isEmpty ?? false }.map(\.name))
    }
}
