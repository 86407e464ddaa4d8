import ArgumentParser
import Foundation
import Kiln
import KilnCore
import KilnStore

struct Message: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "One stored message: its state, attempts and events.", subcommands: [Show.self])

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A message's recipient, tenant, state, attempts, last reply, next attempt, metadata and events (exit 1 when there is none of that id).")
        @OptionGroup var options: ConfigOption
        @Argument(help: "The message id (as `kiln send` printed it).") var id: Int64
        @Option(help: "At most this many events, oldest first (1-100000).") var events = 1_000
        @OptionGroup var output: OutputOptions

        func validate() throws {
            guard (1...100_000).contains(events) else { throw ValidationError("--events: must be between 1 and 100000") }
        }

        func run() async throws {
            let engine = try SendEngine(configurationFile: options.config, logger: makeLogger())
            let messageID = MessageID(id)
            guard let record = try await engine.messages(ids: [messageID]).first else {
                throw KilnError(.notFound, "no message \(id)")
            }
            let history = try await engine.events(ofMessage: messageID, limit: events)
            let shown = MessageOutput(record, events: history)
            if output.json {
                printJSON(shown)
                return
            }
            let now = SendEngine.wallClock()
            var fields: [(String, String)] = [
                ("message", record.id.description), ("recipient", record.recipient), ("provider", record.provider.id), ("tenant", record.tenant),
                ("state", record.state.description), ("attempts", String(record.attempts)),
            ]
            if let via = record.via { fields.append(("last sent from", via.description)) }
            if let reply = record.lastReply { fields.append(("last reply", reply.description.escapingControlCharacters)) }
            if let host = record.host { fields.append(("host", host)) }
            if !record.state.isFinal {
                let wait = record.nextAttemptAt.nanoseconds - now.nanoseconds
                fields.append(("next attempt", EventRecord.rfc3339(record.nextAttemptAt) + (wait > 0 ? " (in \(roughDuration(seconds: (wait + 999_999_999) / 1_000_000_000)))" : " (due now)")))
            }
            if let metadata = shown.metadata {
                fields.append(("metadata", metadata.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ").escapingControlCharacters))
            }
            let width = fields.map(\.0.count).max() ?? 0
            for (name, value) in fields { print(name.padding(toLength: width + 2, withPad: " ", startingAt: 0) + value) }
            print("events (\(history.count)\(history.count == events ? ", --events for more" : ""))")
            for e in history {
                print("  " + [EventRecord.rfc3339(e.time), e.kind.rawValue, eventSummary(e)].filter { !$0.isEmpty }.joined(separator: "\t"))
            }
        }
    }
}

/// What `kiln message show --json` prints.
struct MessageOutput: Encodable {
    struct Event: Encodable {
        var time: String
        var kind: String
        var detail: String?
        var reply: ReplyOutput?
        var `class`: String?
        var reason: String?
        var ip: String?
        var host: String?
        var attempt: Int?
    }
    var id: Int64
    var recipient: String
    var provider: String
    var tenant: String
    var state: String
    var attempts: Int
    /// The source IP (or `shared`) of the last attempt.
    var ip: String?
    var reply: ReplyOutput?
    var host: String?
    /// Absent once the message is final.
    var nextAttemptAt: String?
    var metadata: [String: String]?
    var events: [Event]

    init(_ r: MessageRecord, events: [DeliveryEvent]) {
        id = r.id.rawValue
        recipient = r.recipient
        provider = r.provider.id
        tenant = r.tenant
        state = r.state.description
        attempts = r.attempts
        ip = r.via?.description
        reply = r.lastReply.map(ReplyOutput.init)
        host = r.host
        nextAttemptAt = r.state.isFinal ? nil : EventRecord.rfc3339(r.nextAttemptAt)
        metadata = r.metadata.flatMap { try? JSONDecoder().decode([String: String].self, from: Data($0)) }
        self.events = events.map { e in
            Event(time: EventRecord.rfc3339(e.time), kind: e.kind.rawValue, detail: e.detail, reply: e.reply.map(ReplyOutput.init),
                  class: e.replyClass?.rawValue, reason: e.reason?.rawValue, ip: e.via?.description, host: e.host, attempt: e.attempt)
        }
    }
}

/// A reply as the event records give it.
struct ReplyOutput: Encodable {
    var code: Int
    var enhancedStatus: String?
    var text: String
    init(_ reply: SMTPReply) {
        code = reply.code
        enhancedStatus = reply.enhancedStatus
        text = reply.text
    }
}

/// An event's reply, detail, source and host on one line (control characters escaped).
func eventSummary(_ e: DeliveryEvent) -> String {
    var parts: [String] = []
    if let reply = e.reply { parts.append(reply.description) }
    if let detail = e.detail { parts.append(detail) }
    if let via = e.via { parts.append("from \(via)") }
    if let host = e.host { parts.append("at \(host)") }
    return parts.joined(separator: "; ").escapingControlCharacters
}

/// `~45 s`, `~12 m`, `~3 h 10 m`, `~2 d 4 h` (minutes rounded to the nearest).
func roughDuration(seconds: Int64) -> String {
    if seconds < 60 { return "~\(max(0, seconds)) s" }
    let minutes = (seconds + 30) / 60
    if minutes < 60 { return "~\(minutes) m" }
    if minutes < 48 * 60 { return "~\(minutes / 60) h" + (minutes % 60 == 0 ? "" : " \(minutes % 60) m") }
    let hours = (minutes + 30) / 60
    return "~\(hours / 24) d" + (hours % 24 == 0 ? "" : " \(hours % 24) h")
}

/// `1,200`.
func grouped(_ value: Int) -> String {
    let digits = String(value.magnitude)
    var out = ""
    for (i, c) in digits.enumerated() {
        if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
        out.append(c)
    }
    return (value < 0 ? "-" : "") + out
}
