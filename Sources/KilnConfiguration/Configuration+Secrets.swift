import KilnCore

extension Configuration {
    /// Where the configuration names a file: every such string, with its JSON path.
    public var namedFiles: [(path: String, file: String)] {
        var files: [(String, String)] = []
        if let path = store.path { files.append(("store.path", path)) }
        if let file = store.passwordFile { files.append(("store.passwordFile", file)) }
        if let file = store.caFile { files.append(("store.caFile", file)) }
        for (i, identity) in identities.enumerated() {
            for (k, key) in (identity.dkim ?? []).enumerated() { files.append(("identities[\(i)].dkim[\(k)].privateKeyFile", key.privateKeyFile)) }
        }
        if let file = sharedPool?.passwordFile { files.append(("sharedPool.passwordFile", file)) }
        for (i, set) in configurationSets.enumerated() {
            if let file = set.unsubscribe?.secretFile { files.append(("configurationSets[\(i)].unsubscribe.secretFile", file)) }
        }
        for (_, d, path) in eventDestinations {
            if let file = d.secretFile { files.append(("\(path).secretFile", file)) }
            if let file = d.path { files.append(("\(path).path", file)) }
        }
        return files
    }

    /// Where the configuration names an environment variable, with its JSON path.
    public var namedVariables: [(path: String, variable: String)] {
        var variables: [(String, String)] = []
        if let name = store.passwordEnv { variables.append(("store.passwordEnv", name)) }
        if let name = sharedPool?.usernameEnv { variables.append(("sharedPool.usernameEnv", name)) }
        if let name = sharedPool?.passwordEnv { variables.append(("sharedPool.passwordEnv", name)) }
        for (i, set) in configurationSets.enumerated() {
            if let name = set.unsubscribe?.secretEnv { variables.append(("configurationSets[\(i)].unsubscribe.secretEnv", name)) }
        }
        for (_, d, path) in eventDestinations {
            if let name = d.secretEnv { variables.append(("\(path).secretEnv", name)) }
        }
        return variables
    }

    /// Files named with a NUL or a line break (a C `open` would use a different file),
    /// and environment variable names that are not `[A-Za-z_][A-Za-z0-9_]*`.
    func secretAndPathProblems() -> [ConfigurationProblem] {
        var problems: [ConfigurationProblem] = []
        for (path, file) in namedFiles where !file.isEmpty {
            if file.unicodeScalars.contains(where: { $0.value == 0 || $0 == "\n" || $0 == "\r" }) {
                problems.append(ConfigurationProblem(path: path, message: "must not contain a NUL or a line break"))
            } else if file.utf8.count > 4_096 {
                problems.append(ConfigurationProblem(path: path, message: "is longer than 4096 bytes"))
            }
        }
        for (path, name) in namedVariables where !Self.isVariableName(name) {
            problems.append(ConfigurationProblem(path: path, message: "must be an environment variable name (letters, digits and _, not starting with a digit)"))
        }
        return problems
    }

    static func isVariableName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, name.utf8.count <= 255 else { return false }
        func ok(_ c: Unicode.Scalar) -> Bool { c.isASCII && (c == "_" || c.properties.isAlphabetic || ("0"..."9").contains(c)) }
        return ok(first) && !("0"..."9").contains(first) && name.unicodeScalars.allSatisfy(ok)
    }
}
