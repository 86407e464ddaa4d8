import ArgumentParser
import Foundation
import KilnConfiguration
import KilnCore

struct Reply: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "SMTP replies.", subcommands: [Classify.self])

    struct Classify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Classify an SMTP reply: class (success, throttle, temporary, permanent-user, permanent-policy, permanent-message), scope, reason and the rule that decided.")
        @Argument(help: "The reply, e.g. \"421 4.7.28 unusual rate\".") var reply: String?
        @Flag(help: "Read one reply per line from standard input; write one line per reply (a JSON object each with --json).") var stdin = false
        @Option(help: "A configuration file whose replyRules are checked before the built-in table.") var config: String?
        @Option(help: "The provider id the reply came from (gmail, yahoo, microsoft, ...): its own rules apply, other providers' do not.") var provider: String?
        @OptionGroup var output: OutputOptions

        func validate() throws {
            if reply == nil && !stdin { throw ValidationError("give a reply or --stdin") }
            if let provider, !MailboxProvider.isConfigurable(provider) {
                throw ValidationError("--provider \(provider) is not a provider Kiln knows: \(MailboxProvider.configurableDescription)")
            }
        }

        func run() throws {
            // The reader delivery reads every reply with: operator rules, then the built-in table.
            var reader = ReplyReader()
            if let config {
                guard let data = FileManager.default.contents(atPath: config) else {
                    throw KilnError(.invalidConfiguration, "cannot read the configuration file", location: config)
                }
                reader.classifier = try Configuration.load(json: data, source: config).replyClassifier
            }
            let provider = self.provider.map { MailboxProvider($0) }
            if stdin {
                while let line = readLine() {
                    guard !line.trimmingCharacters(in: .whitespaces).isEmpty else { continue }
                    show(Classified(line, reader: reader, provider: provider))
                }
                return
            }
            show(Classified(reply!, reader: reader, provider: provider))
        }

        /// One reply's line: tab-separated, or a JSON object with --json (the same for an
        /// argument and for --stdin).
        func show(_ result: Classified) {
            if output.json { printJSON(result) } else {
                print("\(result.class)\t\(result.scope)\t\(result.reason)\trule \(result.rule)\tcode \(result.code.map(String.init) ?? "-")\tstatus \(result.enhancedStatus ?? "-")")
            }
        }
    }

    struct Classified: Encodable {
        var code: Int?
        var enhancedStatus: String?
        var `class`: String
        var scope: String
        /// Why it failed (sisimai-style: userunknown, mailboxfull, blocked, ratelimited, ...).
        var reason: String
        /// The id of the rule that decided (a table rule, `replyRules[i]`, `status` or `fallback`).
        var rule: String

        init(_ text: String, reader: ReplyReader, provider: MailboxProvider?) {
            guard let reply = SMTPReply(parsing: text.replacingOccurrences(of: "\\r\\n", with: "\n")) else {
                code = nil; enhancedStatus = nil; `class` = "unknown"; scope = "message"; reason = ReplyReason.undefined.rawValue; rule = "unparsed"
                return
            }
            let c = reader.read(reply, provider: provider).classification
            code = reply.code
            enhancedStatus = reply.enhancedStatus
            `class` = c.replyClass.rawValue
            scope = c.scope.rawValue
            reason = c.reason.rawValue
            rule = c.rule
        }
    }
}
