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
    public func createCampaign(id: String, content: StoredContent, recipientsFile: String, now: Timestamp) throws(KilnError) -> CampaignRecord {
        try wrap("create campaign") {
            try pool.write { db in
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

    public func campaign(id: String) throws(KilnError) -> CampaignRecord? {
        try wrap("read campaign") { try pool.read { db in try Self.campaign(id: id, db: db) } }
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
    /// crash leaves the queue and the resume point in agreement: rows already seen in
    /// this campaign are counted as duplicates, suppressed addresses are counted and
    /// skipped.
    /// - Parameters:
    ///   - rowsRead: the CSV data rows consumed once this batch is in.
    ///   - rejected: rows of this batch that were malformed.
    /// - Returns: the rows queued.
    @discardableResult
    public func ingest(campaign: String, contentID: Int64, rows: [CampaignRow], rowsRead: Int, rejected: Int, complete: Bool,
                       now: Timestamp) throws(KilnError) -> Int {
        try wrap("ingest campaign rows") {
            try pool.write { db in
                let seen = try db.cachedStatement(sql: "INSERT OR IGNORE INTO campaign_seen (content_id, address) VALUES (?, ?)")
                let configSet = try String.fetchOne(db, sql: "SELECT config_set FROM campaigns WHERE id = ?", arguments: [campaign]) ?? ""
                let suppressed = try db.cachedStatement(sql: "SELECT 1 FROM suppression_list WHERE scope IN ('', ?) AND address = ? LIMIT 1")
                let message = try db.cachedStatement(sql: """
                    INSERT INTO messages (content_id, state, provider, recipient, variables, created_at, next_attempt_at, updated_at)
                    VALUES (?, 0, ?, ?, ?, ?, ?, ?)
                    """)
                var queued = 0, duplicates = 0, skipped = 0
                for row in rows {
                    let before = db.totalChangesCount
                    try seen.execute(arguments: [contentID, row.address.lowercased()])
                    guard db.totalChangesCount > before else { duplicates += 1; continue }
                    if try Int.fetchOne(suppressed, arguments: [configSet, row.address.lowercased()]) != nil { skipped += 1; continue }
                    try message.execute(arguments: [contentID, row.provider.id, row.address, Data(row.variables), now.nanoseconds, now.nanoseconds, now.nanoseconds])
                    queued += 1
                }
                try db.execute(sql: """
                    UPDATE campaigns SET rows_read = ?, rejected_rows = rejected_rows + ?, suppressed = suppressed + ?, duplicates = duplicates + ?,
                      accepted = accepted + ?, ingest_complete = ? WHERE id = ?
                    """, arguments: [rowsRead, rejected, skipped, duplicates, queued, complete, campaign])
                return queued
            }
        }
    }

    /// A campaign's messages by provider and state, and how many were spilled.
    public func campaignCounts(contentID: Int64) throws(KilnError) -> (counts: [StateCount], spilled: Int, transientFailures: Int) {
        try wrap("count campaign") {
            try pool.read { db in
                let counts = try Row.fetchAll(db, sql: "SELECT provider, state, COUNT(*) FROM messages WHERE content_id = ? GROUP BY provider, state",
                                              arguments: [contentID]).compactMap { row -> StateCount? in
                    guard let state = MessageState(rawValue: row[1]) else { return nil }
                    return StateCount(state: state, provider: MailboxProvider(row[0] as String), count: row[2])
                }
                let spilled = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM messages WHERE content_id = ? AND state = 3 AND source_ip = 'shared'",
                                               arguments: [contentID]) ?? 0
                let transient = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM messages WHERE content_id = ? AND state = 2 AND attempts > 0",
                                                 arguments: [contentID]) ?? 0
                return (counts, spilled, transient)
            }
        }
    }

    /// Events of `kind` for the messages of a content.
    public func countEvents(kind: DeliveryEvent.Kind, contentID: Int64) throws(KilnError) -> Int {
        try wrap("count events") {
            try pool.read { db in
                try Int.fetchOne(db, sql: """
                    SELECT COUNT(*) FROM events WHERE kind = ? AND message_id IN (SELECT id FROM messages WHERE content_id = ?)
                    """, arguments: [kind.rawValue, contentID]) ?? 0
            }
        }
    }
}
