import ArgumentParser
import Foundation
import Kiln
import KilnCore

struct Config: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Check a configuration.", subcommands: [Check.self])

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a configuration without opening or migrating its store: syntax, keys, ranges, secrets and DKIM keys, event destinations, and that this machine can send from every pool IP. Prints ok, or exits 2 naming every problem with its JSON path.")
        @OptionGroup var options: ConfigOption

        func run() async throws {
            guard let data = FileManager.default.contents(atPath: options.config) else {
                throw KilnError(.invalidConfiguration, "cannot read the configuration file", location: options.config)
            }
            let configuration = try Configuration.load(json: data, source: options.config)
            let directory = (options.config as NSString).deletingLastPathComponent
            let secrets = SecretSource(baseDirectory: directory.isEmpty ? "." : directory)
            let problems = SendEngine.secretProblems(configuration, secrets: secrets, use: .delivery) + SendEngine.sourceAddressProblems(configuration)
            if !problems.isEmpty { throw Configuration.invalid(problems, source: options.config) }
            for warning in configuration.lookAlikeWarnings() {
                FileHandle.standardError.write(Data("kiln: warning: \(warning)\n".utf8))
            }
            for (index, rule) in (configuration.replyRules ?? []).enumerated() {
                if let warning = OperatorReplyRule.backtrackingWarning(rule.match) {
                    FileHandle.standardError.write(Data("kiln: warning: replyRules[\(index)].match: \(warning)\n".utf8))
                }
            }
            print("ok")
        }
    }
}

/// Opens the engine on `--config` and checks at once what the command will need, so
/// that a missing secret or an IP this machine does not have is an invalid
/// configuration (exit 2) before anything starts, not a failure at send time.
/// - Parameters:
///   - secrets: the secrets the command will use (nil: none).
///   - sendsFromPools: whether it delivers, and so binds the pools' IPs.
func openEngine(_ options: ConfigOption, secrets use: SecretUse? = nil, sendsFromPools: Bool = false, node: String? = nil) throws -> SendEngine {
    let engine = try SendEngine(configurationFile: options.config, logger: makeLogger(), node: node)
    if let use { try engine.checkSecrets(for: use) }
    if sendsFromPools { try engine.checkSourceAddresses() }
    return engine
}
