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
            or Amazon SES notifications in JSON (one object, an array, or one object per line; SNS-wrapped or not).
            """)
        @OptionGroup var options: ConfigOption
        @Argument(help: "Files, mbox files or maildirs.") var paths: [String]
        @OptionGroup var output: OutputOptions

        struct Summary: Encodable {
            var messages = 0, bounces = 0, complaints = 0, unsubscribes = 0, suppressed = 0, unmatched = 0, unverified = 0, mismatched = 0, invalid = 0, ignored = 0
            var errors: [String] = []
        }

        func run() async throws {
            let engine = try SendEngine(configurationFile: options.config, logger: makeLogger())
            var summary = Summary()
            for path in paths {
                for (name, bytes) in try FeedbackSource.messages(at: path) {
                    summary.messages += 1
                    do {
                        let outcome = try await engine.ingestFeedback(bytes, source: name)
                        summary.bounces += outcome.bounces
                        summary.complaints += outcome.complaints
                        summary.unsubscribes += outcome.unsubscribes
                        summary.suppressed += outcome.suppressed
                        summary.unmatched += outcome.unmatched
                        summary.unverified += outcome.unverified
                        summary.mismatched += outcome.mismatched
                        summary.invalid += outcome.invalid
                        if outcome.bounces + outcome.complaints + outcome.unsubscribes + outcome.unmatched + outcome.unverified + outcome.mismatched == 0 { summary.ignored += 1 }
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
            }
            if !summary.errors.isEmpty { throw ExitCode(1) }
        }
    }
}

/// Reads feedback messages from a file, an mbox, a maildir or a JSON notification file.
enum FeedbackSource {
    static func messages(at path: String) throws -> [(String, [UInt8])] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw KilnError(.invalidInput, "\(path): no such file or folder")
        }
        if isDirectory.boolValue {
            var files: [String] = []
            let subfolders = ["new", "cur"].map { (path as NSString).appendingPathComponent($0) }
            let folders = subfolders.filter { FileManager.default.fileExists(atPath: $0) }
            for folder in folders.isEmpty ? [path] : folders {
                let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
                for name in names.sorted() where !name.hasPrefix(".") {
                    let full = (folder as NSString).appendingPathComponent(name)
                    var sub: ObjCBool = false
                    if FileManager.default.fileExists(atPath: full, isDirectory: &sub), !sub.boolValue { files.append(full) }
                }
            }
            return try files.flatMap { try messages(inFile: $0) }
        }
        return try messages(inFile: path)
    }

    static func messages(inFile path: String) throws -> [(String, [UInt8])] {
        guard let data = FileManager.default.contents(atPath: path) else { throw KilnError(.invalidInput, "\(path): cannot be read") }
        let bytes = [UInt8](data)
        let firstNonSpace = bytes.first { $0 != 32 && $0 != 9 && $0 != 10 && $0 != 13 }
        // JSON notifications: an array, or one object per line.
        if firstNonSpace == UInt8(ascii: "[") {
            guard let array = try? JSONSerialization.jsonObject(with: data) as? [Any] else {
                throw KilnError(.invalidInput, "\(path): not valid JSON")
            }
            return try array.enumerated().map { index, element in
                ("\(path)[\(index)]", [UInt8](try JSONSerialization.data(withJSONObject: element)))
            }
        }
        if firstNonSpace == UInt8(ascii: "{") {
            if (try? JSONSerialization.jsonObject(with: data)) != nil { return [(path, bytes)] }
            let lines = bytes.split(separator: UInt8(ascii: "\n")).filter { $0.contains(where: { $0 != 32 && $0 != 13 }) }
            return lines.enumerated().map { ("\(path):\($0.offset + 1)", Array($0.element)) }
        }
        // mbox: messages start at "From " lines.
        if bytes.starts(with: Array("From ".utf8)) {
            var out: [(String, [UInt8])] = []
            var current: [UInt8] = []
            var lineNumber = 0, startLine = 1
            var previousBlank = true
            for line in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
                lineNumber += 1
                if previousBlank, line.starts(with: Array("From ".utf8)) {
                    if !current.isEmpty { out.append(("\(path):\(startLine)", current)) }
                    current = []
                    startLine = lineNumber
                    previousBlank = false
                    continue
                }
                var content = Array(line)
                if content.starts(with: Array(">From ".utf8)) { content.removeFirst() }
                current += content
                current.append(10)
                previousBlank = line.isEmpty || line == [13]
            }
            if current.contains(where: { $0 != 10 && $0 != 13 }) { out.append(("\(path):\(startLine)", current)) }
            return out
        }
        return [(path, bytes)]
    }
}
