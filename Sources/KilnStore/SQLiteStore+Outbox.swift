import Foundation
import GRDB
import KilnCore

/// The event log as destinations read it, their cursors, and the retention purge.
extension SQLiteStore {
    /// An `accepted` event for every message queued after row `id` (in the enqueue's
    /// transaction: a message is never queued without its event).
    static func acceptedEvents(after id: Int64, now: Timestamp, db: Database) throws {
        try db.execute(sql: """
            INSERT INTO events (time, kind, message_id, recipient, provider)
            SELECT ?, ?, id, recipient, provider FROM messages WHERE id > ? AND state = ? ORDER BY id
            """, arguments: [now.nanoseconds, DeliveryEvent.Kind.accepted.rawValue, id, MessageState.queued.rawValue])
    }

    public func outboxEvents(after position: EventPosition, limit: Int) async throws(KilnError) -> [StoredEvent] {
        try await wrapAsync("read the event log") {
            try await pool.read { db in
                try Row.fetchAll(db, sql: """
                    SELECT e.id, e.time, e.kind, e.message_id, e.recipient, e.provider, e.source_ip, e.code, e.status, e.text, e.detail,
                           e.class, e.reason, e.attempt, e.host, c.config_set, c.campaign, m.content_id, c.tenant, m.metadata
                    FROM events e LEFT JOIN messages m ON m.id = e.message_id LEFT JOIN contents c ON c.id = m.content_id
                    WHERE e.id > ? ORDER BY e.id LIMIT ?
                    """, arguments: [position.minor, limit]).compactMap { row in
                    guard let kind = DeliveryEvent.Kind(rawValue: row[2]) else { return nil }
                    let id: Int64 = row[0]
                    return StoredEvent(position: EventPosition(minor: id), id: id, event: Self.event(kind, row), configurationSet: row[15],
                                       campaign: row[16], contentID: row[17], tenant: row[18], metadata: (row[19] as Data?).map { [UInt8]($0) })
                }
            }
        }
    }

    /// An event from columns time, kind, message_id, recipient, provider, source_ip,
    /// code, status, text, detail, class, reason, attempt, host at 1...14.
    static func event(_ kind: DeliveryEvent.Kind, _ row: Row) -> DeliveryEvent {
        let code: Int? = row[7]
        let provider: String? = row[5]
        let messageID: Int64? = row[3]
        return DeliveryEvent(
            kind: kind, time: Timestamp(nanoseconds: row[1]), messageID: messageID.map { MessageID($0) },
            recipient: row[4], provider: provider.map { MailboxProvider($0) }, via: (row[6] as String?).map(SendingPath.init),
            reply: code.map { SMTPReply(code: $0, enhancedStatus: row[8], text: row[9] ?? "") }, detail: row[10],
            host: row[14], replyClass: (row[11] as String?).flatMap(ReplyClass.init(rawValue:)),
            reason: (row[12] as String?).flatMap(ReplyReason.init(rawValue:)), attempt: row[13])
    }

    public func outboxCount(after position: EventPosition, cap: Int, taking filter: OutboxFilter?) async throws(KilnError) -> Int {
        try await wrapAsync("count the event log") {
            try await pool.read { db in
                guard let filter else {
                    return try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM (SELECT 1 FROM events WHERE id > ? LIMIT ?)", arguments: [position.minor, cap]) ?? 0
                }
                let kinds = filter.kinds.map { _ in "?" }.joined(separator: ", ")
                var arguments = StatementArguments([position.minor])
                arguments += StatementArguments(filter.kinds)
                arguments += [filter.configurationSet, filter.configurationSet, cap]
                return try Int.fetchOne(db, sql: """
                    SELECT COUNT(*) FROM (
                      SELECT 1 FROM events e LEFT JOIN messages m ON m.id = e.message_id LEFT JOIN contents c ON c.id = m.content_id
                      WHERE e.id > ? AND \(OutboxFilter.condition(kinds: kinds.isEmpty ? "NULL" : kinds, set: "?")) LIMIT ?)
                    """, arguments: arguments) ?? 0
            }
        }
    }

    public func outboxTime(after position: EventPosition) async throws(KilnError) -> Timestamp? {
        try await wrapAsync("read the event log") {
            try await pool.read { db in
                try Int64.fetchOne(db, sql: "SELECT time FROM events WHERE id > ? ORDER BY id LIMIT 1", arguments: [position.minor])
                    .map { Timestamp(nanoseconds: $0) }
            }
        }
    }

    public func destinationCursors() async throws(KilnError) -> [String: DestinationCursor] {
        try await wrapAsync("read destination cursors") {
            try await pool.read { db in
                try Row.fetchAll(db, sql: "SELECT name, position, last_error, last_error_at FROM event_destinations").reduce(into: [:]) { result, row in
                    let at: Int64? = row[3]
                    result[row[0]] = DestinationCursor(name: row[0], position: EventPosition(minor: row[1]), lastError: row[2],
                                                       lastErrorAt: at.map { Timestamp(nanoseconds: $0) })
                }
            }
        }
    }

    public func saveDestinationCursor(_ cursor: DestinationCursor) async throws(KilnError) {
        try await wrapAsync("save a destination cursor") {
            try await pool.write { db in
                try db.execute(sql: "INSERT OR REPLACE INTO event_destinations (name, position, last_error, last_error_at) VALUES (?, ?, ?, ?)",
                               arguments: [cursor.name, cursor.position.minor, cursor.lastError, cursor.lastErrorAt?.nanoseconds])
            }
        }
    }

    /// One batch, in one short transaction (the purge's callers keep `limit` to a few
    /// hundred rows: a few milliseconds of the write lock). The newest event row is kept
    /// whatever its age: SQLite gives a new row the largest id plus one, and the
    /// destinations' cursors must never see an id again.
    public func purge(before: Timestamp, limit: Int) async throws(KilnError) -> PurgeResult {
        let result = try await purgeBatch(before: before, limit: limit)
        // What the batch freed goes back to the file system: the file stays as large as
        // what it holds.
        if result.total > 0 { try await incrementalVacuum(pages: 16 * limit) }
        return result
    }

    func purgeBatch(before: Timestamp, limit: Int) async throws(KilnError) -> PurgeResult {
        try await wrapAsync("purge old messages") {
            try await pool.write { db in
                var result = PurgeResult()
                let rows = try Row.fetchAll(db, sql: """
                    SELECT id, content_id FROM messages WHERE state >= \(MessageState.delivered.rawValue) AND updated_at < ? ORDER BY updated_at LIMIT ?
                    """, arguments: [before.nanoseconds, limit])
                if !rows.isEmpty {
                    let ids = rows.map { String($0[0] as Int64) }.joined(separator: ",")
                    try db.execute(sql: "DELETE FROM messages WHERE id IN (\(ids))")
                    result.messages = db.changesCount
                    let contents = Set(rows.map { $0[1] as Int64 }).map(String.init).joined(separator: ",")
                    try db.execute(sql: """
                        DELETE FROM contents WHERE id IN (\(contents))
                          AND NOT EXISTS (SELECT 1 FROM messages WHERE content_id = contents.id)
                          AND NOT EXISTS (SELECT 1 FROM campaigns WHERE content_id = contents.id)
                        """)
                    result.contents = db.changesCount
                }
                try db.execute(sql: """
                    DELETE FROM events WHERE id IN (SELECT id FROM events ORDER BY id LIMIT ?) AND time < ? AND id < (SELECT MAX(id) FROM events)
                    """, arguments: [limit, before.nanoseconds])
                result.events = db.changesCount
                return result
            }
        }
    }

    /// The database's size in bytes as the file holds it once the WAL is checkpointed
    /// (pages in use and free), and the free part.
    public func databaseBytes() async throws(KilnError) -> (total: Int, free: Int) {
        try await wrapAsync("read the database's size") {
            try await pool.read { db in
                let pageSize = try Int.fetchOne(db, sql: "PRAGMA page_size") ?? 0
                let pages = try Int.fetchOne(db, sql: "PRAGMA page_count") ?? 0
                let free = try Int.fetchOne(db, sql: "PRAGMA freelist_count") ?? 0
                return (pages * pageSize, free * pageSize)
            }
        }
    }

    /// Gives up to `pages` free pages back to the file system (a store created with
    /// `auto_vacuum = INCREMENTAL`; a no-op on older ones). Outside any transaction, in
    /// its own short write.
    func incrementalVacuum(pages: Int) async throws(KilnError) {
        try await wrapAsync("give free pages back") {
            try await pool.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA incremental_vacuum(\(max(1, pages)))")
            }
        }
    }
}
