import ArgumentParser
import Foundation
import Kiln
import KilnCore
import KilnStore

struct Events: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Recent events from the store, newest last: by recipient, campaign, kind, or time (--json: the event destinations' records).")
    @OptionGroup var options: ConfigOption
    @Option(help: "Only this recipient's events.") var recipient: String?
    @Option(help: "Only the events of this campaign's messages.") var campaign: String?
    @Option(help: "Only this kind (repeat, or separate with commas): \(DeliveryEvent.Kind.allCases.map(\.rawValue).joined(separator: ", ")).")
    var kind: [String] = []
    @Option(help: "Only events at or after this time (ISO 8601, e.g. 2026-05-01T08:00:00Z).") var since: String?
    @Option(help: "Only events of the last DURATION (90s, 15m, 1h, 2d).") var last: String?
    @Option(help: "At most this many events, the newest (1-10000).") var limit = 50
    @OptionGroup var output: OutputOptions

    func validate() throws {
        guard (1...10_000).contains(limit) else { throw ValidationError("--limit: must be between 1 and 10000") }
        if since != nil && last != nil { throw ValidationError("give --since or --last, not both") }
        _ = try kinds()
        if let since { _ = try parseTime(since, option: "--since") }
        if let last { _ = try parseDuration(last, option: "--last") }
        if let recipient { _ = try parseAddress(recipient, option: "--recipient") }
    }

    func kinds() throws -> Set<DeliveryEvent.Kind> {
        Set(try kind.flatMap { $0.split(separator: ",") }.map { text in
            let name = text.trimmingCharacters(in: .whitespaces)
            guard let kind = DeliveryEvent.Kind(rawValue: name) ?? DeliveryEvent.Kind.allCases.first(where: { $0.rawValue.lowercased() == name.lowercased() })
            else {
                throw ValidationError("--kind: '\(name.escapingControlCharacters)' is not one of \(DeliveryEvent.Kind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return kind
        })
    }

    func run() async throws {
        let engine = try SendEngine(configurationFile: options.config, logger: makeLogger())
        var query = EventQuery(recipient: try recipient.map { try parseAddress($0, option: "--recipient").description }, campaign: campaign, kinds: try kinds())
        if let since { query.since = try parseTime(since, option: "--since") }
        if let last { query.since = SendEngine.wallClock() - (try parseDuration(last, option: "--last")) }
        let events = try await engine.recentEvents(matching: query, limit: limit)
        if output.json {
            printJSON(events.map { stored in
                EventRecord(id: stored.id, event: stored.event, configurationSet: stored.configurationSet, campaign: stored.campaign, tags: nil,
                            attempt: stored.event.attempt, tenant: stored.tenant,
                            metadata: stored.metadata.flatMap { try? JSONDecoder().decode([String: String].self, from: Data($0)) })
            })
            return
        }
        for stored in events {
            let e = stored.event
            print([EventRecord.rfc3339(e.time), e.kind.rawValue, e.messageID.map { "message \($0)" } ?? "-", e.recipient ?? "-", eventSummary(e).isEmpty ? "-" : eventSummary(e)]
                .joined(separator: "\t"))
        }
        if events.count == limit { FileHandle.standardError.write(Data("kiln: the newest \(limit) shown; --limit for more\n".utf8)) }
    }
}

/// An ISO 8601 time (`2026-05-01T08:00:00Z`, with or without fractions of a second, or a
/// date alone: its midnight UTC), between 1678 and 2261.
func parseTime(_ text: String, option: String) throws -> Timestamp {
    let formatter = ISO8601DateFormatter()
    for options: ISO8601DateFormatter.Options in [[.withInternetDateTime], [.withInternetDateTime, .withFractionalSeconds], [.withFullDate]] {
        formatter.formatOptions = options
        guard let date = formatter.date(from: text) else { continue }
        // Timestamps are Int64 nanoseconds: 1677 to 2262.
        guard let nanoseconds = Int64(exactly: (date.timeIntervalSince1970 * 1e9).rounded()) else {
            throw ValidationError("\(option): '\(text.escapingControlCharacters)' is out of range (1678-2261)")
        }
        return Timestamp(nanoseconds: nanoseconds)
    }
    throw ValidationError("\(option): '\(text.escapingControlCharacters)' is not an ISO 8601 time (such as 2026-05-01T08:00:00Z)")
}

/// `90s`, `15m`, `1h`, `2d` (a whole number and a unit).
func parseDuration(_ text: String, option: String) throws -> Duration {
    let units: [Character: Int64] = ["s": 1, "m": 60, "h": 3_600, "d": 86_400]
    guard let unit = text.last.flatMap({ units[$0] }), let count = Int64(text.dropLast()), count > 0, count <= 3_650 * 86_400 / unit else {
        throw ValidationError("\(option): '\(text.escapingControlCharacters)' is not a duration such as 90s, 15m, 1h or 2d")
    }
    return .seconds(count * unit)
}
