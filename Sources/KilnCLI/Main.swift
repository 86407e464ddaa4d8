import ArgumentParser
import Foundation
import KilnCore

@main
struct Main {
    static func main() async {
        do {
            var command = try KilnCommand.parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error as KilnError {
            FileHandle.standardError.write(Data("kiln: \(error)\n".utf8))
            switch error.code {
            case .invalidConfiguration, .invalidAddress, .invalidMessage, .notAllowedSender, .headerInjection, .invalidInput:
                exit(2)
            default:
                exit(1)
            }
        } catch {
            let code = KilnCommand.exitCode(for: error)
            if code == .validationFailure {
                // The problem alone, not the usage after it: `--help` shows that.
                let message = KilnCommand.message(for: error)
                FileHandle.standardError.write(Data("kiln: \(message.isEmpty ? "invalid arguments" : message) (see --help)\n".utf8))
                exit(2)
            }
            KilnCommand.exit(withError: error)
        }
    }
}

struct KilnCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kiln",
        abstract: "A bulk email sending engine that warms up dedicated IPs by itself.",
        version: KilnVersion.text,
        subcommands: [Send.self, Run.self, Status.self, Pause.self, Resume.self, Campaign.self, Simulate.self, Demo.self, Reply.self, Feedback.self, Suppression.self, Serve.self, Config.self, Migrate.self, Identity.self, Credentials.self, Message.self, Events.self, Queue.self])
}

struct ConfigOption: ParsableArguments {
    @Option(name: .long, help: "The configuration file (JSON).")
    var config: String
}

struct NodeOption: ParsableArguments {
    @Option(name: .long, help: "Deliver as this node of the configuration's nodes (its IPs only), on the shared PostgreSQL store.")
    var node: String?
}

struct OutputOptions: ParsableArguments {
    @Flag(name: .long, help: "Print JSON.")
    var json = false
}

func printJSON(_ value: some Encodable) {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    if let data = try? encoder.encode(value) { print(String(decoding: data, as: UTF8.self)) }
}

/// `kiln --version`: the release, and the commit it was built from when the build knew it.
enum KilnVersion {
    static let release = "0.9.0"
    static var text: String { "kiln \(release)" }
}
