import KilnConfiguration
import KilnCore
import KilnMessage
import KilnSMTP

/// What a command will do, and so which secrets it needs loaded before it starts.
public enum SecretUse: Sendable {
    /// Delivering: every unsubscribe secret, every DKIM key, the shared relay's password.
    case delivery
    /// Serving one-click unsubscribes: the unsubscribe secrets (at least one).
    case unsubscribe
}

extension SendEngine {
    /// Loads and checks every secret `use` needs, now rather than at send time: a
    /// missing environment variable, a missing, oversized or group-readable DKIM key, a
    /// secret shorter than `SecretSource.minimumLength`. Throws `.invalidConfiguration`
    /// listing every problem with the JSON path of the field naming the secret (never
    /// its value).
    public func checkSecrets(for use: SecretUse) throws(KilnError) {
        let problems = Self.secretProblems(configuration, secrets: secrets, use: use)
        if !problems.isEmpty { throw Configuration.invalid(problems, source: "configuration (secrets)") }
    }

    /// The problems `checkSecrets(for:)` throws, for a configuration not yet opened
    /// (`kiln config check` opens no store).
    public static func secretProblems(_ configuration: Configuration, secrets: SecretSource, use: SecretUse) -> [ConfigurationProblem] {
        var problems: [ConfigurationProblem] = []
        func attempt(_ body: () throws(KilnError) -> Void) {
            do { try body() } catch { problems.append(ConfigurationProblem(path: error.location ?? "", message: error.message)) }
        }
        var unsubscribeSets = 0
        for (i, set) in configuration.configurationSets.enumerated() {
            guard let u = set.unsubscribe else { continue }
            unsubscribeSets += 1
            let field = "configurationSets[\(i)].unsubscribe"
            if let file = u.secretFile {
                attempt { () throws(KilnError) in _ = try secrets.fromFile(file, for: field + ".secretFile") }
            } else if let variable = u.secretEnv {
                attempt { () throws(KilnError) in _ = try secrets.fromEnvironment(variable, for: field + ".secretEnv") }
            }
        }
        switch use {
        case .unsubscribe:
            if unsubscribeSets == 0 {
                problems.append(ConfigurationProblem(path: "configurationSets", message: "no configuration set has an unsubscribe section (url and secretEnv or secretFile) to serve"))
            }
        case .delivery:
            // The envelope sender's HMAC key: every message's return path is signed with it.
            attempt { () throws(KilnError) in _ = try MessageFinisher.returnPathSecret(configuration: configuration, secrets: secrets) }
            for (_, d, path) in configuration.eventDestinations where d.type == "webhook" {
                if let file = d.secretFile {
                    attempt { () throws(KilnError) in _ = try secrets.fromFile(file, for: "\(path).secretFile") }
                } else if let variable = d.secretEnv {
                    attempt { () throws(KilnError) in _ = try secrets.fromEnvironment(variable, for: "\(path).secretEnv") }
                }
            }
            for (i, identity) in configuration.identities.enumerated() {
                for (k, key) in (identity.dkim ?? []).enumerated() {
                    attempt { () throws(KilnError) in
                        _ = try DKIMKey.load(path: secrets.resolve(key.privateKeyFile), expectedAlgorithm: key.algorithm,
                                             allowInsecure: key.allowInsecureKeyFile ?? false, field: "identities[\(i)].dkim[\(k)].privateKeyFile")
                    }
                }
            }
            if let shared = configuration.sharedPool, let user = shared.usernameEnv {
                attempt { () throws(KilnError) in _ = try secrets.valueFromEnvironment(user, for: "sharedPool.usernameEnv") }
                if let file = shared.passwordFile {
                    attempt { () throws(KilnError) in _ = try secrets.fromFile(file, for: "sharedPool.passwordFile", minimumLength: 1) }
                } else if let variable = shared.passwordEnv {
                    attempt { () throws(KilnError) in _ = try secrets.fromEnvironment(variable, for: "sharedPool.passwordEnv", minimumLength: 1) }
                }
            }
        }
        return problems
    }
}

extension SendEngine {
    /// Throws `.invalidConfiguration` naming every pool IP this machine cannot send from
    /// (`SourceAddressCheck`), so that `kiln run` refuses to start rather than fail each
    /// transfer.
    public func checkSourceAddresses() throws(KilnError) {
        let problems = Self.sourceAddressProblems(sendingConfiguration)
        if !problems.isEmpty { throw Configuration.invalid(problems, source: "configuration (source addresses)") }
    }

    /// The pool IPs of `configuration` this machine cannot send from, with their paths.
    public static func sourceAddressProblems(_ configuration: Configuration) -> [ConfigurationProblem] {
        var problems: [ConfigurationProblem] = []
        for (i, pool) in configuration.pools.enumerated() {
            for (j, ip) in pool.ips.enumerated() {
                if let why = SourceAddressCheck.bindError(ip) {
                    problems.append(ConfigurationProblem(path: "pools[\(i)].ips[\(j)]", message: "this machine cannot send from \(ip) (bind: \(why))"))
                }
            }
        }
        return problems
    }
}
