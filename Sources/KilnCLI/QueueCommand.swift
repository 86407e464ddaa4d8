import ArgumentParser
import Foundation
import Kiln
import KilnCore
import KilnStore

struct Queue: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The unfinished queue per provider and its drain time; `queue retry` makes deferred mail due now.",
        subcommands: [Show.self, Retry.self], defaultSubcommand: Show.self)

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Per provider: queued, deferred (by last source IP) and leased messages, the next due time, and the time to drain at the warm-up's current allowances.")
        @OptionGroup var options: ConfigOption
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let engine = try SendEngine(configurationFile: options.config, logger: makeLogger())
            let report = try await engine.queueReport()
            if output.json {
                printJSON(QueueOutput(report))
                return
            }
            if report.paused { print("sending: PAUSED (`kiln resume` to drain)") }
            if report.providers.isEmpty { print("queue empty") }
            let now = SendEngine.wallClock()
            for p in report.providers {
                let drain: String
                if report.paused {
                    drain = "paused"
                } else if let seconds = p.drainSeconds, let hourly = p.hourly {
                    drain = "\(roughDuration(seconds: seconds)) at \(grouped(hourly))/h"
                } else {
                    drain = "drain time unknown (no warm-up allowance saved yet: `kiln run` saves it)"
                }
                print("\(p.provider): \(grouped(p.pending)) left, \(drain)")
                var detail = "  queued \(grouped(p.queued)), deferred \(grouped(p.deferred)), leased \(grouped(p.leased))"
                if let due = p.nextDue {
                    let wait = due.nanoseconds - now.nanoseconds
                    detail += "; next due \(EventRecord.rfc3339(due))" + (wait > 0 ? " (in \(roughDuration(seconds: (wait + 999_999_999) / 1_000_000_000)))" : " (now)")
                }
                print(detail)
                for source in p.sources {
                    print("  deferred, last from \(source.ip): \(grouped(source.deferred))\(source.hourly.map { " (\(grouped($0))/h)" } ?? "")")
                }
            }
        }
    }

    struct Retry: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make deferred messages due now (all, or one provider's or recipient's); leased and final messages are left as they are.")
        @OptionGroup var options: ConfigOption
        @Option(help: "Only this provider's messages (gmail, microsoft, yahoo, apple, other, ...).") var provider: String?
        @Option(help: "Only this recipient's messages.") var recipient: String?
        @OptionGroup var output: OutputOptions

        func validate() throws {
            if let recipient { _ = try parseAddress(recipient, option: "--recipient") }
            if let provider, provider.isEmpty || provider.contains(where: { $0.isWhitespace }) {
                throw ValidationError("--provider: '\(provider.escapingControlCharacters)' is not a provider name")
            }
        }

        func run() async throws {
            let engine = try SendEngine(configurationFile: options.config, logger: makeLogger())
            let address = try recipient.map { try parseAddress($0, option: "--recipient").description }
            let count = try await engine.retryNow(provider: provider.map { MailboxProvider($0) }, recipient: address)
            if output.json {
                struct Retried: Encodable { var action = "retry", due: Int }
                printJSON(Retried(due: count))
            } else {
                print("made \(grouped(count)) deferred message(s) due now")
            }
        }
    }
}

/// What `kiln queue --json` prints (times in RFC 3339).
struct QueueOutput: Encodable {
    struct Provider: Encodable {
        var provider: String
        var queued: Int, deferred: Int, leased: Int, pending: Int
        var nextDue: String?
        var hourly: Int?
        var drainSeconds: Int64?
        /// `estimated`, `paused`, or `unknown` (no allowance saved yet).
        var drain: String
        var sources: [QueueReport.Source]
    }
    var paused: Bool
    var providers: [Provider]
    init(_ report: QueueReport) {
        paused = report.paused
        providers = report.providers.map { p in
            Provider(provider: p.provider, queued: p.queued, deferred: p.deferred, leased: p.leased, pending: p.pending,
                     nextDue: p.nextDue.map(EventRecord.rfc3339), hourly: p.hourly, drainSeconds: p.drainSeconds,
                     drain: report.paused ? "paused" : p.drainSeconds == nil ? "unknown" : "estimated", sources: p.sources)
        }
    }
}
