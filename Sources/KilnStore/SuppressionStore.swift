import Foundation
import GRDB
import KilnCore

/// Why an address is on the suppression list.
public enum SuppressionReason: String, Sendable, Codable, CaseIterable {
    case bounce = "BOUNCE"
    case complaint = "COMPLAINT"
    case unsubscribe = "UNSUBSCRIBE"
    case manual = "MANUAL"
}

/// One address on the suppression list: account-wide (`scope` nil) or for one
/// configuration set.
public struct SuppressionEntry: Sendable, Hashable, Codable {
    public var address: String
    public var scope: String?
    public var reason: SuppressionReason
    /// Where it came from: the bounce reply, the feedback file, the unsubscribe list, the import file.
    public var source: String
    public var createdAt: Timestamp

    public init(address: String, scope: String? = nil, reason: SuppressionReason, source: String, createdAt: Timestamp) {
        self.address = address.lowercased()
        self.scope = scope?.isEmpty == true ? nil : scope
        self.reason = reason
        self.source = source
        self.createdAt = createdAt
    }
}

/// A page of the suppression list, and the token for the next one (nil at the end).
public struct SuppressionPage: Sendable {
    public var entries: [SuppressionEntry]
    public var nextToken: String?
    public init(entries: [SuppressionEntry], nextToken: String?) {
        self.entries = entries
        self.nextToken = nextToken
    }

    /// A page of `size` from up to `size + 1` entries read in (scope, address) order: the
    /// extra one says there is a next page, whose token names the page's last entry.
    public init(reading entries: [SuppressionEntry], size: Int) {
        var entries = entries
        var next: String?
        if entries.count > size {
            entries.removeLast(entries.count - size)
            let last = entries[entries.count - 1]
            next = Data(((last.scope ?? "") + "\u{0}" + last.address).utf8).base64EncodedString()
        }
        self.init(entries: entries, nextToken: next)
    }

    /// The (scope, address) a page token resumes after; an error for a token this list did not give out.
    public static func cursor(_ token: String?) throws(KilnError) -> (scope: String, address: String)? {
        guard let token else { return nil }
        guard let data = Data(base64Encoded: token), let text = String(data: data, encoding: .utf8), let separator = text.firstIndex(of: "\u{0}") else {
            throw KilnError(.invalidInput, "the page token '\(token)' is not one this list gave out")
        }
        return (String(text[..<separator]), String(text[text.index(after: separator)...]))
    }
}

extension SQLiteStore {
    /// Adds entries. An address already suppressed in that scope keeps its first entry,
    /// unless `replace` (a manual add or an import says so).
    @discardableResult
    public func suppress(_ entries: [SuppressionEntry], replace: Bool) async throws(KilnError) -> Int {
        try await wrapAsync("suppress") {
            try await pool.write { db in try Self.suppress(entries, replace: replace, db: db) }
        }
    }

    static func suppress(_ entries: [SuppressionEntry], replace: Bool, db: Database) throws -> Int {
        let statement = try db.cachedStatement(sql: """
            INSERT \(replace ? "OR REPLACE" : "OR IGNORE") INTO suppression_list (scope, address, reason, source, created_at) VALUES (?, ?, ?, ?, ?)
            """)
        var added = 0
        for entry in entries {
            try statement.execute(arguments: [entry.scope ?? "", entry.address, entry.reason.rawValue, entry.source, entry.createdAt.nanoseconds])
            added += db.changesCount
        }
        return added
    }

    /// Removes an address from one scope (nil: the account list). True if it was there.
    @discardableResult
    public func unsuppress(_ address: String, scope: String?) async throws(KilnError) -> Bool {
        try await wrapAsync("remove suppression") {
            try await pool.write { db in
                try db.execute(sql: "DELETE FROM suppression_list WHERE scope = ? AND address = ?", arguments: [scope ?? "", address.lowercased()])
                return db.changesCount > 0
            }
        }
    }

    /// The entry that suppresses `address` for a message of configuration set `scope`:
    /// the account-wide one first, else that set's.
    public func suppression(of address: String, scope: String?) async throws(KilnError) -> SuppressionEntry? {
        try await wrapAsync("read suppression") {
            try await pool.read { db in
                try Row.fetchAll(db, sql: "SELECT scope, address, reason, source, created_at FROM suppression_list WHERE address = ? AND scope IN ('', ?) ORDER BY scope",
                                 arguments: [address.lowercased(), scope ?? ""]).first.map(Self.entry)
            }
        }
    }

    /// The reasons that suppress each of `addresses` for configuration set `scope` (those
    /// not suppressed are absent).
    public func suppressions(of addresses: [String], scope: String) async throws(KilnError) -> [String: SuppressionReason] {
        guard !addresses.isEmpty else { return [:] }
        return try await wrapAsync("read suppressions") {
            try await pool.read { db in
                let statement = try db.cachedStatement(sql: "SELECT reason FROM suppression_list WHERE address = ? AND scope IN ('', ?) ORDER BY scope LIMIT 1")
                var found: [String: SuppressionReason] = [:]
                for address in addresses {
                    let lowered = address.lowercased()
                    if let reason = try String.fetchOne(statement, arguments: [lowered, scope]).flatMap(SuppressionReason.init(rawValue:)) {
                        found[address] = reason
                    }
                }
                return found
            }
        }
    }

    /// One page of the list in (scope, address) order, optionally of one reason, resuming
    /// after `token`. Each page is one indexed range scan, whatever the list's size.
    public func suppressionPage(reason: SuppressionReason?, pageSize: Int, after token: String?) async throws(KilnError) -> SuppressionPage {
        let size = max(1, min(pageSize, 10_000))
        let after = try SuppressionPage.cursor(token)
        return try await wrapAsync("list suppressions") {
            try await pool.read { db in
                var sql = "SELECT scope, address, reason, source, created_at FROM suppression_list"
                var conditions: [String] = []
                var arguments: StatementArguments = []
                if let reason {
                    conditions.append("reason = ?")
                    arguments += [reason.rawValue]
                }
                if let after {
                    conditions.append("(scope, address) > (?, ?)")
                    arguments += [after.scope, after.address]
                }
                if !conditions.isEmpty { sql += " WHERE " + conditions.joined(separator: " AND ") }
                sql += " ORDER BY scope, address LIMIT ?"
                arguments += [size + 1]
                return SuppressionPage(reading: try Row.fetchAll(db, sql: sql, arguments: arguments).map(Self.entry), size: size)
            }
        }
    }

    public func suppressionTotal() async throws(KilnError) -> Int {
        try await wrapAsync("count suppressions") { try await pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM suppression_list") ?? 0 } }
    }

    /// How many addresses are suppressed, by reason.
    public func suppressionCounts() async throws(KilnError) -> [SuppressionReason: Int] {
        try await wrapAsync("count suppressions") {
            try await pool.read { db in
                var counts: [SuppressionReason: Int] = [:]
                for row in try Row.fetchAll(db, sql: "SELECT reason, COUNT(*) FROM suppression_list GROUP BY reason") {
                    if let reason = SuppressionReason(rawValue: row[0]) { counts[reason] = row[1] }
                }
                return counts
            }
        }
    }

    static func entry(_ row: Row) -> SuppressionEntry {
        SuppressionEntry(address: row[1], scope: row[0], reason: SuppressionReason(rawValue: row[2]) ?? .manual,
                         source: row[3], createdAt: Timestamp(nanoseconds: row[4]))
    }
}
