import Foundation
import GRDB
import KilnCore

/// A campaign as stored: where its list is, how far ingestion got, and its counters.
public struct CampaignRecord: Sendable, Hashable, Codable {
    public var id: String
    public var contentID: Int64
    public var recipientsFile: String
    public var configurationSet: String
    /// Data rows of the CSV consumed so far (the resume point).
    public var rowsRead: Int
    public var rejectedRows: Int
    public var suppressed: Int
    public var duplicates: Int
    public var accepted: Int
    public var ingestComplete: Bool
    public init(id: String, contentID: Int64, recipientsFile: String, configurationSet: String, rowsRead: Int, rejectedRows: Int, suppressed: Int,
                duplicates: Int, accepted: Int, ingestComplete: Bool) {
        self.id = id
        self.contentID = contentID
        self.recipientsFile = recipientsFile
        self.configurationSet = configurationSet
        self.rowsRead = rowsRead
        self.rejectedRows = rejectedRows
        self.suppressed = suppressed
        self.duplicates = duplicates
        self.accepted = accepted
        self.ingestComplete = ingestComplete
    }
}

/// One recipient row ready to queue.
public struct CampaignRow: Sendable {
    public var address: String
    public var provider: MailboxProvider
    /// The row's variables as a JSON object.
    public var variables: [UInt8]
    public init(address: String, provider: MailboxProvider, variables: [UInt8]) {
        self.address = address
        self.provider = provider
        self.variables = variables
    }
}

extension SQLiteStore {
    /// Creates a campaign with its template content, or returns the existing one.
    public func createCampaign(id: String, content: StoredContent, recipientsFile: String, now: Timestamp) async throws(KilnError) -> CampaignRecord {
        try await wrapAsync("create campaign") {
            try await pool.write { db in
                if let existing = try Self.campaign(id: id, db: db) { return existing }
                try db.execute(sql: "INSERT INTO contents (data, envelope_domain, config_set, campaign, from_domain, is_template) VALUES (?, ?, ?, ?, ?, ?)",
                               arguments: [Data(content.data), content.envelopeDomain, content.configurationSet, content.campaign, content.fromDomain, content.isTemplate])
                let contentID = db.lastInsertedRowID
                try db.execute(sql: "INSERT INTO campaigns (id, content_id, recipients_file, config_set, created_at) VALUES (?, ?, ?, ?, ?)",
                               arguments: [id, contentID, recipientsFile, content.configurationSet, now.nanoseconds])
                return try Self.campaign(id: id, db: db)!
            }
        }
    }

    public func campaign(id: String) async throws(KilnError) -> CampaignRecord? {
        try await wrapAsync("read campaign") { try await pool.read { db in try Self.campaign(id: id, db: db) } }
    }

    static func campaign(id: String, db: Database) throws -> CampaignRecord? {
        guard let row = try Row.fetchOne(db, sql: """
            SELECT id, content_id, recipients_file, config_set, rows_read, rejected_rows, suppressed, duplicates, accepted, ingest_complete
            FROM campaigns WHERE id = ?
            """, arguments: [id]) else { return nil }
        return CampaignRecord(id: row[0], contentID: row[1], recipientsFile: row[2], configurationSet: row[3], rowsRead: row[4],
                              rejectedRows: row[5], suppressed: row[6], duplicates: row[7], accepted: row[8], ingestComplete: row[9])
    }

    /// Queues a batch of rows in one transaction with the new resume point, so that a
    /// crash leaves the queue and the resume point in agreement. The rows come already
    /// de-duplicated (the caller keeps the campaign's addresses seen); suppressed
    /// addresses (the account's list and the campaign's set) are counted and skipped.
    /// The rows go in through SQLite's own statement API: at millions of rows a
    /// campaign, GRDB's per-call argument boxing is the larger part of the cost.
    /// - Parameters:
    ///   - rowsRead: the CSV data rows consumed once this batch is in.
    ///   - rejected: rows of this batch that were malformed.
    ///   - duplicates: rows of this batch whose address came earlier in the list.
    /// - Returns: the rows queued.
    @discardableResult
    public func ingest(campaign: String, contentID: Int64, rows: [CampaignRow], rowsRead: Int, rejected: Int, duplicates: Int,
                       complete: Bool, now: Timestamp) async throws(KilnError) -> Int {
        try await wrapAsync("ingest campaign rows") {
            try await pool.write { db in
                try Self.ingest(campaign: campaign, contentID: contentID, rows: rows, rowsRead: rowsRead, rejected: rejected,
                                duplicates: duplicates, complete: complete, now: now, db: db)
            }
        }
    }

    static func ingest(campaign: String, contentID: Int64, rows: [CampaignRow], rowsRead: Int, rejected: Int, duplicates: Int,
                       complete: Bool, now: Timestamp, db: Database) throws -> Int {
        let configSet = try String.fetchOne(db, sql: "SELECT config_set FROM campaigns WHERE id = ?", arguments: [campaign]) ?? ""
        let anySuppressed = try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM suppression_list WHERE scope IN ('', ?))",
                                              arguments: [configSet]) ?? false
        var kept = rows
        if anySuppressed {
            let suppressed = try db.cachedStatement(sql: "SELECT 1 FROM suppression_list WHERE scope IN ('', ?1) AND address = ?2 LIMIT 1")
            let lookup = RawStatement(suppressed.sqliteStatement, db: db)
            defer { lookup.reset() }
            kept = try rows.filter { row in
                lookup.reset()
                lookup.bind(1, configSet)
                lookup.bind(2, row.address.lowercased())
                return try !lookup.step()
            }
        }
        let skipped = rows.count - kept.count
        var queued = 0
        // Many rows a statement: SQLite opens the table's and the indexes' cursors once.
        let rowsPerStatement = 64
        func sql(rows: Int) -> String {
            let values = (0..<rows).map { i in "(?1, 0, ?\(3 * i + 3), ?\(3 * i + 4), ?\(3 * i + 5), ?2, ?2, ?2)" }
            return """
                INSERT INTO messages (content_id, state, provider, recipient, variables, created_at, next_attempt_at, updated_at)
                VALUES \(values.joined(separator: ","))
                """
        }
        let fullSQL = sql(rows: rowsPerStatement)
        func insert(_ rows: ArraySlice<CampaignRow>) throws {
            let statement = try db.cachedStatement(sql: rows.count == rowsPerStatement ? fullSQL : sql(rows: rows.count))
            let raw = RawStatement(statement.sqliteStatement, db: db)
            raw.reset()
            raw.bind(1, contentID)
            raw.bind(2, now.nanoseconds)
            for (i, row) in rows.enumerated() {
                raw.bind(Int32(3 * i + 3), row.provider.id)
                raw.bind(Int32(3 * i + 4), row.address)
                raw.bind(Int32(3 * i + 5), bytes: row.variables)
            }
            _ = try raw.step()
            raw.reset()
            queued += rows.count
        }
        let before = try Int64.fetchOne(db, sql: "SELECT MAX(id) FROM messages") ?? 0
        var start = 0
        while start < kept.count {
            let end = min(kept.count, start + rowsPerStatement)
            try insert(kept[start..<end])
            start = end
        }
        try acceptedEvents(after: before, now: now, db: db)
        try db.execute(sql: """
            UPDATE campaigns SET rows_read = ?, rejected_rows = rejected_rows + ?, suppressed = suppressed + ?, duplicates = duplicates + ?,
              accepted = accepted + ?, ingest_complete = ? WHERE id = ?
            """, arguments: [rowsRead, rejected, skipped, duplicates, queued, complete, campaign])
        return queued
    }

    /// A page of the recipient addresses queued for a content, in id order after `after`
    /// (to rebuild a resumed campaign's duplicate filter); `next` is nil at the end. Walks
    /// the table in id order once over all pages.
    public func recipients(contentID: Int64, after: MessageID?, limit: Int) async throws(KilnError) -> (addresses: [String], next: MessageID?) {
        try await wrapAsync("read campaign recipients") {
            try await pool.read { db in
                let rows = try Row.fetchAll(db, sql: "SELECT id, recipient FROM messages WHERE id > ? AND content_id = ? ORDER BY id LIMIT ?",
                                            arguments: [after?.rawValue ?? 0, contentID, limit])
                let last: Int64? = rows.last?[0]
                return (rows.map { $0[1] }, rows.count < limit ? nil : last.map(MessageID.init))
            }
        }
    }

    /// A campaign's messages by provider and state, and how many were spilled.
    public func campaignCounts(contentID: Int64) async throws(KilnError) -> (counts: [StateCount], spilled: Int, transientFailures: Int) {
        try await wrapAsync("count campaign") {
            try await pool.read { db in
                let counts = try Row.fetchAll(db, sql: "SELECT provider, state, COUNT(*) FROM messages WHERE content_id = ? GROUP BY provider, state",
                                              arguments: [contentID]).compactMap { row -> StateCount? in
                    guard let state = MessageState(rawValue: row[1]) else { return nil }
                    return StateCount(state: state, provider: MailboxProvider(row[0] as String), count: row[2])
                }
                let spilled = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM messages WHERE content_id = ? AND state = \(MessageState.delivered.rawValue) AND source_ip = '\(SendingPath.shared)'",
                                               arguments: [contentID]) ?? 0
                let transient = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM messages WHERE content_id = ? AND state = \(MessageState.deferred.rawValue) AND attempts > 0",
                                                 arguments: [contentID]) ?? 0
                return (counts, spilled, transient)
            }
        }
    }

    /// Events of `kind` for the messages of a content: a pass over the events, each looked
    /// up by its message id (not a list of the content's messages, which may be millions).
    public func countEvents(kind: DeliveryEvent.Kind, contentID: Int64) async throws(KilnError) -> Int {
        try await wrapAsync("count events") {
            try await pool.read { db in
                try Int.fetchOne(db, sql: """
                    SELECT COUNT(*) FROM events CROSS JOIN messages ON messages.id = events.message_id
                    WHERE events.kind = ? AND messages.content_id = ?
                    """, arguments: [kind.rawValue, contentID]) ?? 0
            }
        }
    }
}
