import KilnConfiguration
import KilnCore
import KilnMessage
import KilnSMTP
import Synchronization

/// What a command will do, and so which secrets it needs loaded before it starts.
public enum SecretUse: Sendable, Hashable {
    /// Delivering: every secret the configuration names (unsubscribe secrets, the return
    /// path's key, webhook secrets, DKIM keys, the shared relay's credentials).
    case delivery
    /// Serving one-click unsubscribes: the unsubscribe secrets (at least one).
    case unsubscribe
    /// Reading bounces and complaints: the return path's key.
    case feedback
}

/// Every secret the configuration names for one use, read once: the engine keeps it, and
/// its delivery runs, feedback, unsubscribes and event relay take their secrets from it.
/// `load` is the one function that reads a secret named by the configuration (the
/// store's password aside, read once when the store is opened). Values never reach a log
/// or an error: problems name the JSON path of the field that names the secret.
struct LoadedSecrets: Sendable {
    /// The HMAC key of each configuration set's unsubscribe tokens, by set name.
    var unsubscribe: [String: [UInt8]] = [:]
    /// The return path's HMAC key (nil: none configured, the return path is unsigned).
    var returnPath: [UInt8]?
    /// Each webhook event destination's signing secret, by its JSON path.
    var webhooks: [String: [UInt8]] = [:]
    /// Each DKIM key, by its JSON path (`identities[i].dkim[k]`).
    var dkimKeys: [String: DKIMKey] = [:]
    /// The RSA signing library forced by `KILN_DKIM_RSA_LIBRARY` (nil: the faster).
    var rsaLibrary: RSASigningLibrary?
    /// The shared relay's credentials (nil: it needs none).
    var sharedRelay: SMTPCredentials?

    /// Reads what `use` needs; every problem is returned, each naming its field's path.
    static func load(_ configuration: Configuration, from source: SecretSource, for use: SecretUse) -> (LoadedSecrets, [KilnError]) {
        var loaded = LoadedSecrets()
        var problems: [KilnError] = []
        func attempt(_ body: () throws(KilnError) -> Void) {
            do { try body() } catch { problems.append(error) }
        }
        if use != .feedback {
            for (i, set) in configuration.configurationSets.enumerated() {
                guard let u = set.unsubscribe else { continue }
                attempt { () throws(KilnError) in
                    let secret = try source.fromFileOrEnvironment(file: u.secretFile, environment: u.secretEnv, at: "configurationSets[\(i)].unsubscribe")
                    loaded.unsubscribe[set.name] = Array(secret.utf8)
                }
            }
        }
        if use == .unsubscribe, !configuration.configurationSets.contains(where: { $0.unsubscribe != nil }) {
            problems.append(KilnError(.invalidConfiguration, "no configuration set has an unsubscribe section (url and secretEnv or secretFile) to serve",
                                      location: "configurationSets"))
        }
        if use != .unsubscribe {
            attempt { () throws(KilnError) in loaded.returnPath = try returnPathSecret(configuration.feedbackSettings, from: source) }
        }
        guard use == .delivery else { return (loaded, problems) }
        for (_, d, path) in configuration.eventDestinations where d.type == "webhook" {
            attempt { () throws(KilnError) in
                loaded.webhooks[path] = Array(try source.fromFileOrEnvironment(file: d.secretFile, environment: d.secretEnv, at: path).utf8)
            }
        }
        for (i, identity) in configuration.identities.enumerated() {
            for (k, key) in (identity.dkim ?? []).enumerated() {
                attempt { () throws(KilnError) in
                    loaded.dkimKeys["identities[\(i)].dkim[\(k)]"] = try DKIMKey.load(
                        path: source.resolve(key.privateKeyFile), expectedAlgorithm: key.algorithm,
                        allowInsecure: key.allowInsecureKeyFile ?? false, field: "identities[\(i)].dkim[\(k)].privateKeyFile")
                }
            }
        }
        attempt { () throws(KilnError) in loaded.rsaLibrary = try rsaLibrary(source.environment) }
        if let shared = configuration.sharedPool, let userVariable = shared.usernameEnv {
            attempt { () throws(KilnError) in
                let user = try source.valueFromEnvironment(userVariable, for: "sharedPool.usernameEnv")
                let password = shared.passwordFile == nil && shared.passwordEnv == nil ? "" : try source.fromFileOrEnvironment(
                    file: shared.passwordFile, environment: shared.passwordEnv, at: "sharedPool", fileKey: "passwordFile", environmentKey: "passwordEnv",
                    minimumLength: 1)
                loaded.sharedRelay = SMTPCredentials(username: user, password: password)
            }
        }
        return (loaded, problems)
    }

    /// The return path's HMAC key from `feedback.returnPathSecretEnv` or `returnPathSecretFile`
    /// (nil when neither is set); shorter than 16 bytes is refused.
    static func returnPathSecret(_ settings: Configuration.Feedback, from source: SecretSource) throws(KilnError) -> [UInt8]? {
        guard settings.returnPathSecretFile != nil || settings.returnPathSecretEnv != nil else { return nil }
        let secret = try source.fromFileOrEnvironment(file: settings.returnPathSecretFile, environment: settings.returnPathSecretEnv, at: "feedback",
                                                      fileKey: "returnPathSecretFile", environmentKey: "returnPathSecretEnv")
        let field = settings.returnPathSecretFile == nil ? "feedback.returnPathSecretEnv" : "feedback.returnPathSecretFile"
        guard secret.utf8.count >= Configuration.Feedback.minimumSecretBytes else {
            throw KilnError(.secretUnavailable, "the return-path secret must be at least \(Configuration.Feedback.minimumSecretBytes) bytes", location: field)
        }
        return Array(secret.utf8)
    }

    /// The environment variable that forces the RSA signing library (`openssl` or
    /// `swift-crypto`), for comparing them; unset, each key uses the faster on this machine.
    static let rsaLibraryVariable = "KILN_DKIM_RSA_LIBRARY"

    static func rsaLibrary(_ environment: [String: String]) throws(KilnError) -> RSASigningLibrary? {
        guard let name = environment[rsaLibraryVariable], !name.isEmpty else { return nil }
        guard let library = RSASigningLibrary(rawValue: name) else {
            throw KilnError(.invalidConfiguration, "'\(name)' is not openssl or swift-crypto", location: rsaLibraryVariable)
        }
        return library
    }
}

extension SendEngine {
    /// The secrets `use` needs, read at the first call and kept (a failure is read again
    /// at the next call, after the operator fixed it). A delivery's secrets serve every
    /// use. Throws the first problem, naming its field.
    func loadedSecrets(for use: SecretUse) throws(KilnError) -> LoadedSecrets {
        let (loaded, problems) = loadSecrets(for: use)
        guard let loaded else { throw problems[0] }
        return loaded
    }

    /// The secrets `use` needs, or nil and every problem found reading them.
    private func loadSecrets(for use: SecretUse) -> (LoadedSecrets?, [KilnError]) {
        if let kept = secretsLoaded.withLock({ $0[.delivery] ?? $0[use] }) { return (kept, []) }
        let (loaded, problems) = LoadedSecrets.load(configuration, from: secrets, for: use)
        guard problems.isEmpty else { return (nil, problems) }
        secretsLoaded.withLock { $0[use] = loaded }
        return (loaded, [])
    }

    /// Loads and checks every secret `use` needs, now rather than at send time: a
    /// missing environment variable, a missing, oversized or group-readable DKIM key, a
    /// secret shorter than `SecretSource.minimumLength`. Throws `.invalidConfiguration`
    /// listing every problem with the JSON path of the field naming the secret (never
    /// its value). The engine keeps what it read.
    public func checkSecrets(for use: SecretUse) throws(KilnError) {
        let problems = loadSecrets(for: use).1
        if !problems.isEmpty { throw Configuration.invalid(problems.map(\.configurationProblem), source: "configuration (secrets)") }
    }

    /// The problems `checkSecrets(for:)` throws, for a configuration not yet opened
    /// (`kiln config check` opens no store).
    public static func secretProblems(_ configuration: Configuration, secrets: SecretSource, use: SecretUse) -> [ConfigurationProblem] {
        LoadedSecrets.load(configuration, from: secrets, for: use).1.map(\.configurationProblem)
    }
}

extension KilnError {
    /// The problem as a configuration check lists it: the field's path and the message.
    var configurationProblem: ConfigurationProblem { ConfigurationProblem(path: location ?? "", message: message) }
}
