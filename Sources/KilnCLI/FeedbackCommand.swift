import ArgumentParser
import Foundation
import KilnCore
import Kiln
import KilnFeedback

struct Feedback: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Bounces, complaints and auto-replies that came back.",
        subcommands: [Classify.self, Ingest.self])

    struct Classify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Say what a returned message is: bounce, complaint, delivery, auto-reply or unknown, and for which recipients.")
        @Argument(help: "The message file(s) (RFC 5322, or an Amazon SES / SNS JSON notification).") var files: [String]
        @OptionGroup var output: OutputOptions

        func run() throws {
            for file in files {
                guard let data = FileManager.default.contents(atPath: file) else {
                    throw KilnError(.invalidInput, "\(file): cannot be read")
                }
                let report = FeedbackClassifier.classify(Array(data))
                if output.json {
                    printJSON(report)
                } else {
                    let head = files.count > 1 ? "\(file)\t" : ""
                    print("\(head)\(report.type.rawValue)\t\(report.feedbackType ?? report.reason ?? "-")")
                    for recipient in report.recipients {
                        print("  \(recipient.address)\t\(recipient.status ?? "-")\t\(recipient.reason ?? "-")\t\(recipient.permanent ? "permanent" : "not permanent")\t\(recipient.diagnostic ?? "")")
                    }
                }
            }
        }
    }
}

extension Feedback {
    struct Ingest: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Record bounces, complaints and unsubscribe mails: events, suppression list, reputation guard.",
            discussion: """
            Each PATH is a message file, an mbox file, a maildir (or any folder of message files), \
            or Amazon SES notifications in JSON (one object, an array, or one object per line; SNS-wrapped or not). \
            Mailboxes are read message by message; a report larger than feedback.maxReportBytes is skipped and named.
            """)
        @OptionGroup var options: ConfigOption
        @Argument(help: "Files, mbox files or maildirs.") var paths: [String]
        @OptionGroup var output: OutputOptions

        struct Summary: Encodable {
            var messages = 0, bounces = 0, complaints = 0, unsubscribes = 0, suppressed = 0, unmatched = 0, unverified = 0, mismatched = 0, invalid = 0, ignored = 0
            var errors: [String] = []
            /// Reports not read, with their size: larger than `feedback.maxReportBytes`.
            var skipped: [String] = []

            mutating func add(_ outcome: FeedbackOutcome) {
                bounces += outcome.bounces
                complaints += outcome.complaints
                unsubscribes += outcome.unsubscribes
                suppressed += outcome.suppressed
                unmatched += outcome.unmatched
                unverified += outcome.unverified
                mismatched += outcome.mismatched
                invalid += outcome.invalid
                if outcome.bounces + outcome.complaints + outcome.unsubscribes + outcome.unmatched + outcome.unverified + outcome.mismatched == 0 {
                    ignored += 1
                }
            }
        }

        func run() async throws {
            let engine = try SendEngine(configurationFile: options.config, logger: makeLogger())
            var summary = Summary()
            let source = FeedbackSource(limit: engine.configuration.feedbackSettings.reportLimit)
            for path in paths {
                try await source.forEach(at: path, skipped: { name, size in
                    summary.skipped.append("\(name): \(size) bytes, over feedback.maxReportBytes (\(source.limit))")
                }) { name, bytes in
                    summary.messages += 1
                    do {
                        summary.add(try await engine.ingestFeedback(bytes, source: name))
                    } catch {
                        summary.errors.append("\(name): \(error)")
                    }
                }
            }
            if output.json {
                printJSON(summary)
            } else {
                print("\(summary.messages) messages: \(summary.bounces) bounces, \(summary.complaints) complaints, \(summary.unsubscribes) unsubscribes, \(summary.ignored) ignored; \(summary.suppressed) addresses newly suppressed, \(summary.unmatched) recipients not matched to a sent message, \(summary.unverified) unverified (return path without a valid MAC), \(summary.mismatched) not the traced message's recipient, \(summary.invalid) not addresses")
                for error in summary.errors { FileHandle.standardError.write(Data("kiln: \(error)\n".utf8)) }
                for skipped in summary.skipped { FileHandle.standardError.write(Data("kiln: skipped \(skipped)\n".utf8)) }
            }
            if !summary.errors.isEmpty { throw ExitCode(1) }
        }
    }
}
