import ArgumentParser
import Foundation
import Kiln
import KilnCore
import KilnMessage
import KilnStore

struct Send: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Queue a message; with --wait, deliver it and print each recipient's outcome.")

    @OptionGroup var options: ConfigOption
    @Option(help: "The From address (in a configured identity).") var from: String
    @Option(help: "A recipient (repeat for more).") var to: [String]
    @Option(help: "The subject.") var subject: String
    @Option(help: "The text body.") var text: String?
    @Option(name: .customLong("text-file"), help: "A file holding the text body.") var textFile: String?
    @Option(name: .customLong("html-file"), help: "A file holding the HTML body.") var htmlFile: String?
    @Option(name: .customLong("config-set"), help: "The configuration set.") var configSet: String?
    @Flag(help: "Deliver now and wait until every recipient has a final outcome or is deferred (exit 3 when any is deferred: `kiln run` goes on).") var wait = false
    @OptionGroup var output: OutputOptions

    /// The exit status when the message was queued (its ids printed) but `--wait` could
    /// not deliver: do not send it again; `kiln run` delivers it.
    static let acceptedButNotDelivered: Int32 = 3

    func validate() throws {
        if to.isEmpty { throw ValidationError("--to is required") }
        if (text == nil) == (textFile == nil) && htmlFile == nil { throw ValidationError("give --text or --text-file (or --html-file)") }
        if text != nil && textFile != nil { throw ValidationError("give --text or --text-file, not both") }
    }

    func run() async throws {
        let engine = try openEngine(options, secrets: wait ? .delivery : nil, sendsFromPools: wait)
        let fromAddress = try parseAddress(from, option: "--from")
        let recipients = try to.map { try parseAddress($0, option: "--to") }
        let textBody = try text ?? textFile.map { try readFile($0, option: "--text-file") }
        let htmlBody = try htmlFile.map { try readFile($0, option: "--html-file") }
        let draft = MessageDraft(from: fromAddress, to: recipients, subject: subject, text: textBody, html: htmlBody)
        let ids = try await engine.submit(OutgoingMessage(draft, configurationSet: configSet))
        let records: [MessageRecord]
        do {
            records = wait ? try await engine.deliverAndWait(for: ids) : try await engine.store.messages(ids: ids)
        } catch {
            // Accepted but not delivered: say which ids are queued, so that a retry does not send twice.
            FileHandle.standardError.write(Data("kiln: \(error)\n".utf8))
            if output.json { printJSON(ids.map(\.rawValue)) } else { print("queued: \(ids.map(\.description).joined(separator: " "))") }
            throw ExitCode(Self.acceptedButNotDelivered)
        }
        if output.json {
            printJSON(records.map(SendResult.init))
        } else {
            for r in records {
                let reply = r.lastReply.map { " (\($0))" } ?? ""
                print("\(r.id)\t\(r.recipient)\t\(r.state)\(r.via.map { " via \($0)" } ?? "")\(r.host.map { " at \($0)" } ?? "")\(reply)")
            }
        }
        let waiting = records.filter { $0.state == .queued || $0.state == .deferred || $0.state == .leased }
        if !wait {
            FileHandle.standardError.write(Data("kiln: queued; `kiln run --config \(options.config)` delivers it (or send with --wait)\n".utf8))
        } else if !waiting.isEmpty {
            // Not delivered yet: not a success, and not to be sent again.
            FileHandle.standardError.write(Data("kiln: \(waiting.count) of \(records.count) not delivered yet (deferred); `kiln run --config \(options.config)` goes on delivering; do not send again\n".utf8))
            throw ExitCode(Self.acceptedButNotDelivered)
        }
    }
}

struct SendResult: Encodable {
    var id: Int64
    var recipient: String
    var provider: String
    var state: String
    var attempts: Int
    var sourceIP: String?
    var reply: String?
    /// The receiving host that gave the last reply.
    var host: String?
    init(_ r: MessageRecord) {
        host = r.host
        id = r.id.rawValue
        recipient = r.recipient
        provider = r.provider.id
        state = r.state.description
        attempts = r.attempts
        sourceIP = r.via?.description
        reply = r.lastReply?.description
    }
}

func parseAddress(_ text: String, option: String) throws -> EmailAddress {
    do { return try EmailAddress(text) } catch { throw ValidationError("\(option): \(error.message)") }
}

func readFile(_ path: String, option: String) throws -> String {
    guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("\(option): cannot read \(path)") }
    return String(decoding: data, as: UTF8.self)
}
