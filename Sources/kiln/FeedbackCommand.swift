import ArgumentParser
import Foundation
import KilnCore
import KilnFeedback

struct Feedback: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Bounces, complaints and auto-replies that came back.",
        subcommands: [Classify.self])

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
