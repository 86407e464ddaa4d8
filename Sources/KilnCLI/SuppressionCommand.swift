import ArgumentParser
import Foundation
import Kiln
import KilnCore
import KilnStore

struct Suppression: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The suppression list: addresses Kiln never sends to (account-wide, or for one configuration set).",
        subcommands: [List.self, Add.self, Remove.self, Import.self, Export.self])

    struct Scope: ParsableArguments {
        @Option(name: .customLong("config-set"), help: "The configuration set's own list (default: the account-wide list).") var configSet: String?
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One page of the list, in address order; --page-token continues.")
        @OptionGroup var options: ConfigOption
        @Option(help: "Only this reason: BOUNCE, COMPLAINT, UNSUBSCRIBE or MANUAL.") var reason: String?
        @Option(name: .customLong("page-size"), help: "Entries per page (1-10000).") var pageSize = 100
        @Option(name: .customLong("page-token"), help: "The nextPageToken of the previous page.") var pageToken: String?
        @OptionGroup var output: OutputOptions

        func validate() throws {
            guard (1...10_000).contains(pageSize) else { throw ValidationError("--page-size: must be between 1 and 10000") }
        }

        func run() async throws {
            let engine = try SendEngine(configurationFile: options.config, logger: makeLogger())
            let reason = try parseReason(self.reason, option: "--reason")
            let page = try await engine.suppressionPage(reason: reason, pageSize: pageSize, after: pageToken)
            if output.json {
                struct Page: Encodable { var entries: [Entry]; var nextPageToken: String? }
                printJSON(Page(entries: page.entries.map(Entry.init), nextPageToken: page.nextToken))
                return
            }
            for entry in page.entries {
                print("\(entry.address)\t\(entry.scope ?? "*")\t\(entry.reason.rawValue)\t\(iso8601(entry.createdAt))\t\(entry.source)")
            }
            if let next = page.nextToken { print("more: --page-token \(next)") }
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Suppress addresses (reason MANUAL unless --reason says otherwise).")
        @OptionGroup var options: ConfigOption
        @OptionGroup var scope: Scope
        @Option(help: "BOUNCE, COMPLAINT, UNSUBSCRIBE or MANUAL.") var reason = "MANUAL"
        @Argument(help: "Addresses.") var addresses: [String]
        @OptionGroup var output: OutputOptions
        func run() async throws {
            let engine = try SendEngine(configurationFile: options.config, logger: makeLogger())
            try checkConfigSet(scope.configSet, engine)
            let reason = try parseReason(reason, option: "--reason")!
            let time = SendEngine.wallClock()
            var entries: [SuppressionEntry] = []
            for (i, text) in addresses.enumerated() {
                do { entries.append(SuppressionEntry(address: try EmailAddress(text).description, scope: scope.configSet, reason: reason, source: "manual (kiln suppression add)", createdAt: time)) }
                catch { throw ValidationError("address \(i + 1): \(error.message)") }
            }
            let added = try await engine.suppress(entries)
            if output.json {
                printJSON(SuppressionChange(action: "add", scope: scope.configSet, added: added))
            } else {
                print("suppressed \(added) address(es) in \(scope.configSet ?? "the account-wide list")")
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Take addresses off the list.")
        @OptionGroup var options: ConfigOption
        @OptionGroup var scope: Scope
        @Argument(help: "Addresses.") var addresses: [String]
        @OptionGroup var output: OutputOptions
        func run() async throws {
            let engine = try SendEngine(configurationFile: options.config, logger: makeLogger())
            try checkConfigSet(scope.configSet, engine)
            let removed = try await engine.unsuppress(addresses, scope: scope.configSet)
            if output.json {
                printJSON(SuppressionChange(action: "remove", scope: scope.configSet, removed: removed, requested: addresses.count))
            } else {
                print("removed \(removed) of \(addresses.count) address(es) from \(scope.configSet ?? "the account-wide list")")
            }
        }
    }

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add the addresses of a CSV file (header row with an `email` column; optional `reason`), streamed in batches.")
        @OptionGroup var options: ConfigOption
        @OptionGroup var scope: Scope
        @Option(help: "The reason for rows without a reason column.") var reason = "MANUAL"
        @Argument(help: "The CSV file.") var file: String
        @OptionGroup var output: OutputOptions
        func run() async throws {
            let engine = try SendEngine(configurationFile: options.config, logger: makeLogger())
            try checkConfigSet(scope.configSet, engine)
            let defaultReason = try parseReason(reason, option: "--reason")!
            let result = try await engine.importSuppressions(from: file, configurationSet: scope.configSet, reason: defaultReason) { line, why in
                FileHandle.standardError.write(Data("kiln: \(file):\(line): skipped (\(why))\n".utf8))
            }
            if output.json {
                printJSON(SuppressionChange(action: "import", scope: scope.configSet, added: result.added, rejected: result.rejected))
            } else {
                print("imported \(result.added) new address(es), \(result.rejected) row(s) skipped")
            }
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write the whole list as CSV (email,scope,reason,created_at,source) to standard output.")
        @OptionGroup var options: ConfigOption
        @Option(help: "Only this reason.") var reason: String?
        func run() async throws {
            let engine = try SendEngine(configurationFile: options.config, logger: makeLogger())
            let reason = try parseReason(self.reason, option: "--reason")
            print("email,scope,reason,created_at,source")
            var token: String?
            repeat {
                let page = try await engine.suppressionPage(reason: reason, pageSize: 5_000, after: token)
                for e in page.entries {
                    print([e.address, e.scope ?? "", e.reason.rawValue, iso8601(e.createdAt), e.source].map(csvField).joined(separator: ","))
                }
                token = page.nextToken
            } while token != nil
        }
    }

    struct Entry: Encodable {
        var address: String, scope: String?, reason: String, source: String, createdAt: String
        init(_ e: SuppressionEntry) {
            address = e.address; scope = e.scope; reason = e.reason.rawValue; source = e.source; createdAt = iso8601(e.createdAt)
        }
    }
}

func parseReason(_ text: String?, option: String) throws -> SuppressionReason? {
    guard let text else { return nil }
    guard let reason = SuppressionReason(rawValue: text.uppercased()) else {
        throw ValidationError("\(option): '\(text)' is not one of BOUNCE, COMPLAINT, UNSUBSCRIBE, MANUAL")
    }
    return reason
}

func csvField(_ text: String) -> String {
    text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) ? "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : text
}

func iso8601(_ time: Timestamp) -> String {
    let formatter = ISO8601DateFormatter()
    return formatter.string(from: Date(timeIntervalSince1970: Double(time.nanoseconds) / 1e9))
}

/// What `suppression add/remove/import --json` print.
struct SuppressionChange: Encodable {
    var action: String
    /// The configuration set (absent: the account-wide list).
    var scope: String?
    var added: Int?
    var removed: Int?
    var requested: Int?
    var rejected: Int?
}
