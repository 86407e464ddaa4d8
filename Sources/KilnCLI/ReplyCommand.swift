import ArgumentParser
import Foundation
import KilnCore

struct Reply: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "SMTP replies.", subcommands: [Classify.self])

    struct Classify: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Classify an SMTP reply: class (success, throttle, temporary, permanent-user, permanent-policy, permanent-message) and scope.")
        @Argument(help: "The reply, e.g. \"421 4.7.28 unusual rate\".") var reply: String?
        @Flag(help: "Read one reply per line from standard input; write one JSON object per line.") var stdin = false
        @OptionGroup var output: OutputOptions

        func validate() throws {
            if reply == nil && !stdin { throw ValidationError("give a reply or --stdin") }
        }

        func run() throws {
            if stdin {
                while let line = readLine() {
                    guard !line.trimmingCharacters(in: .whitespaces).isEmpty else { continue }
                    printJSON(Classified(line))
                }
                return
            }
            let result = Classified(reply!)
            if output.json { printJSON(result) } else {
                print("\(result.class)\t\(result.scope)\tcode \(result.code.map(String.init) ?? "-")\tstatus \(result.enhancedStatus ?? "-")")
            }
        }
    }

    struct Classified: Encodable {
        var code: Int?
        var enhancedStatus: String?
        var `class`: String
        var scope: String
        init(_ text: String) {
            guard let reply = SMTPReply(parsing: text.replacingOccurrences(of: "\\r\\n", with: "\n")) else {
                code = nil; enhancedStatus = nil; `class` = "unknown"; scope = "message"
                return
            }
            let c = reply.classification
            code = reply.code
            enhancedStatus = reply.enhancedStatus
            `class` = c.replyClass.rawValue
            scope = c.scope.rawValue
        }
    }
}
