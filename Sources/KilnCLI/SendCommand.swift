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
    @Option(help: "The subject (required unless --raw).") var subject: String?
    @Option(help: "The text body.") var text: String?
    @Option(name: .customLong("text-file"), help: "A file holding the text body.") var textFile: String?
    @Option(name: .customLong("html-file"), help: "A file holding the HTML body.") var htmlFile: String?
    @Option(name: .customLong("config-set"), help: "The configuration set.") var configSet: String?
    @Option(help: "Send this file's RFC 5322 message as it is (its From must be --from's address; no --subject, body, --attach, --header or --reply-to with it).")
    var raw: String?
    @Option(help: "Attach a file (repeat for more; the content type comes from its extension).") var attach: [String] = []
    @Option(help: "An extra header field, \"Name: value\" (repeat for more; not one Kiln writes, such as From, Subject or List-Unsubscribe).")
    var header: [String] = []
    @Option(name: .customLong("reply-to"), help: "The Reply-To address.") var replyTo: String?
    @Flag(help: "Deliver now and wait until every recipient has a final outcome or is deferred (exit 3 when any is deferred: `kiln run` goes on).") var wait = false
    @OptionGroup var output: OutputOptions

    /// The exit status when the message was queued (its ids printed) but `--wait` could
    /// not deliver: do not send it again; `kiln run` delivers it.
    static let acceptedButNotDelivered: Int32 = 3

    func validate() throws {
        if to.isEmpty { throw ValidationError("--to is required") }
        if raw != nil {
            let composing = [("--subject", subject != nil), ("--text", text != nil), ("--text-file", textFile != nil), ("--html-file", htmlFile != nil),
                             ("--attach", !attach.isEmpty), ("--header", !header.isEmpty), ("--reply-to", replyTo != nil)]
            if let (option, _) = composing.first(where: { $0.1 }) { throw ValidationError("--raw sends the file as it is: \(option) does not go with it") }
            return
        }
        if subject == nil { throw ValidationError("--subject is required (or send a whole message with --raw)") }
        if (text == nil) == (textFile == nil) && htmlFile == nil { throw ValidationError("give --text or --text-file (or --html-file)") }
        if text != nil && textFile != nil { throw ValidationError("give --text or --text-file, not both") }
        _ = try header.map(parseHeader)
    }

    func run() async throws {
        let engine = try openEngine(options, secrets: wait ? .delivery : nil, sendsFromPools: wait)
        let fromAddress = try parseAddress(from, option: "--from")
        let recipients = try to.map { try parseAddress($0, option: "--to") }
        let message: OutgoingMessage
        if let raw {
            message = OutgoingMessage(raw: try readBytes(raw, option: "--raw"), from: fromAddress, recipients: recipients, configurationSet: configSet)
        } else {
            let textBody = try text ?? textFile.map { try readFile($0, option: "--text-file") }
            let htmlBody = try htmlFile.map { try readFile($0, option: "--html-file") }
            let attachments = try attach.map { path in
                MessageDraft.Attachment(filename: URL(fileURLWithPath: path).lastPathComponent, contentType: contentType(ofFile: path),
                                        data: try readBytes(path, option: "--attach"))
            }
            let draft = MessageDraft(from: fromAddress, to: recipients, replyTo: try replyTo.map { try parseAddress($0, option: "--reply-to") },
                                     subject: subject ?? "", text: textBody, html: htmlBody, extraHeaders: try header.map(parseHeader), attachments: attachments)
            message = OutgoingMessage(draft, configurationSet: configSet)
        }
        let ids = try await engine.submit(message)
        let records: [MessageRecord]
        do {
            records = wait ? try await engine.deliverAndWait(for: ids) : try await engine.messages(ids: ids)
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

func readBytes(_ path: String, option: String) throws -> [UInt8] {
    guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("\(option): cannot read \(path)") }
    return [UInt8](data)
}

/// `--header "Name: value"`: a field name of printable ASCII without a colon, not one Kiln
/// writes itself (`MessageTemplate.reservedHeaders`), and no line break anywhere.
func parseHeader(_ text: String) throws -> MessageDraft.Header {
    if text.unicodeScalars.contains(where: { $0 == "\r" || $0 == "\n" }) {
        throw ValidationError("--header: '\(text.escapingControlCharacters)' has a line break")
    }
    guard let colon = text.firstIndex(of: ":") else { throw ValidationError("--header: '\(text.escapingControlCharacters)' is not \"Name: value\"") }
    let name = String(text[..<colon]).trimmingCharacters(in: .whitespaces)
    let value = String(text[text.index(after: colon)...]).trimmingCharacters(in: .whitespaces)
    guard !name.isEmpty, name.unicodeScalars.allSatisfy({ $0.value > 32 && $0.value < 127 }) else {
        throw ValidationError("--header: '\(name.escapingControlCharacters)' is not a header field name")
    }
    guard !MessageTemplate.reservedHeaders.contains(name.lowercased()) else {
        throw ValidationError("--header: \(name) is written by Kiln and cannot be set (use --from, --to, --subject, --reply-to)")
    }
    guard !value.unicodeScalars.contains(where: { $0.value < 32 && $0 != "\t" || $0.value == 127 }) else {
        throw ValidationError("--header: the value of \(name) has a control character")
    }
    return MessageDraft.Header(name, value)
}

/// The MIME type of a file by its extension (application/octet-stream when unknown).
///
/// | extension | type |
/// |---|---|
/// | pdf | application/pdf |
/// | png, jpg/jpeg, gif, webp, svg | image/… |
/// | txt, csv, html/htm, ics | text/… |
/// | zip, json, xml, docx, xlsx | application/… |
func contentType(ofFile path: String) -> String {
    let types: [String: String] = [
        "pdf": "application/pdf", "png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif", "webp": "image/webp",
        "svg": "image/svg+xml", "txt": "text/plain", "csv": "text/csv", "html": "text/html", "htm": "text/html", "ics": "text/calendar",
        "zip": "application/zip", "json": "application/json", "xml": "application/xml", "gz": "application/gzip",
        "doc": "application/msword", "xls": "application/vnd.ms-excel",
        "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "eml": "message/rfc822",
    ]
    return types[URL(fileURLWithPath: path).pathExtension.lowercased()] ?? "application/octet-stream"
}
