import KilnCore
import KilnStore
import PostgresNIO

/// The event log as destinations read it, their cursors, and the retention purge.
extension PostgresStore {
    /// The columns `event(_:)` reads, in order.
    static let eventColumns = "e.time, e.kind, e.message_id, e.recipient, e.provider, e.source_ip, e.code, e.status, e.text, e.detail, e.class, e.reason, e.attempt, e.host"

    /// An event from `eventColumns` starting at column `first`.
    static func event(_ row: PostgresRandomAccessRow, from first: Int) throws -> DeliveryEvent? {
        func cell<T: PostgresDecodable>(_ offset: Int, _ type: T.Type) throws -> T { try row[first + offset].decode(T.self) }
        guard let kind = DeliveryEvent.Kind(rawValue: try cell(1, String.self)) else { return nil }
        let code = try cell(6, Int?.self)
        return DeliveryEvent(
            kind: kind, time: Timestamp(nanoseconds: try cell(0, Int64.self)), messageID: try cell(2, Int64?.self).map(MessageID.init),
            recipient: try cell(3, String?.self), provider: try cell(4, String?.self).map { MailboxProvider($0) },
            via: try cell(5, String?.self).map(SendingPath.init),
            reply: try code.map { SMTPReply(code: $0, enhancedStatus: try cell(7, String?.self), text: try cell(8, String?.self) ?? "") },
            detail: try cell(9, String?.self),
            host: try cell(13, String?.self), replyClass: try cell(10, String?.self).flatMap(ReplyClass.init(rawValue:)),
            reason: try cell(11, String?.self).flatMap(ReplyReason.init(rawValue:)), attempt: try cell(12, Int?.self))
    }

    /// The log's order is (transaction id, id), and only transactions older than every
    /// running one are read: nothing can commit behind a cursor (`EventPosition`).
    static let committedBefore = "e.txid < pg_snapshot_xmin(pg_current_snapshot())::text::bigint"

    public func outboxEvents(after position: EventPosition, limit: Int) async throws(KilnError) -> [StoredEvent] {
        try await run("read the event log") {
            let rows = try await query("""
                SELECT e.txid, e.id, \(unescaped: Self.eventColumns), m.config_set, c.campaign, m.content_id, m.tenant, m.metadata
                FROM events e LEFT JOIN messages m ON m.id = e.message_id LEFT JOIN contents c ON c.id = m.content_id
                WHERE (e.txid, e.id) > (\(position.major), \(position.minor)) AND \(unescaped: Self.committedBefore)
                ORDER BY e.txid, e.id LIMIT \(limit)
                """, logger: logger)
            var events: [StoredEvent] = []
            for try await row in rows {
                let r = row.makeRandomAccess()
                guard let event = try Self.event(r, from: 2) else { continue }
                let id = try r[1].decode(Int64.self)
                events.append(StoredEvent(position: EventPosition(major: try r[0].decode(Int64.self), minor: id), id: id, event: event,
                                          configurationSet: try r[16].decode(String?.self), campaign: try r[17].decode(String?.self),
                                          contentID: try r[18].decode(Int64?.self), tenant: try r[19].decode(String?.self),
                                          metadata: Self.bytes(try r[20].decode(ByteBuffer?.self))))
            }
            return events
        }
    }

    public func outboxCount(after position: EventPosition, cap: Int, taking filter: OutboxFilter?) async throws(KilnError) -> Int {
        try await run("count the event log") {
            let rows: PostgresRowSequence
            if let filter {
                var binds = PostgresBindings()
                binds.append(position.major)
                binds.append(position.minor)
                binds.append(filter.kinds)
                binds.append(filter.configurationSet)
                binds.append(cap)
                rows = try await query(PostgresQuery(unsafeSQL: """
                    SELECT count(*) FROM (
                      SELECT 1 FROM events e LEFT JOIN messages m ON m.id = e.message_id LEFT JOIN contents c ON c.id = m.content_id
                      WHERE (e.txid, e.id) > ($1, $2) AND \(OutboxFilter.condition(kinds: "SELECT unnest($3::text[])", set: "$4")) LIMIT $5) AS pending
                    """, binds: binds), logger: logger)
            } else {
                rows = try await query("""
                    SELECT count(*) FROM (SELECT 1 FROM events WHERE (txid, id) > (\(position.major), \(position.minor)) LIMIT \(cap)) AS pending
                    """, logger: logger)
            }
            var count = 0
            for try await n in rows.decode(Int.self) { count = n }
            return count
        }
    }

    public func outboxTime(after position: EventPosition) async throws(KilnError) -> Timestamp? {
        try await run("read the event log") {
            let rows = try await query("""
                SELECT time FROM events WHERE (txid, id) > (\(position.major), \(position.minor)) ORDER BY txid, id LIMIT 1
                """, logger: logger)
            var time: Int64?
            for try await value in rows.decode(Int64.self) { time = value }
            return time.map(Timestamp.init(nanoseconds:))
        }
    }

    public func destinationCursors() async throws(KilnError) -> [String: DestinationCursor] {
        try await run("read destination cursors") {
            let rows = try await query("SELECT name, major, minor, last_error, last_error_at FROM event_destinations", logger: logger)
            var cursors: [String: DestinationCursor] = [:]
            for try await (name, major, minor, error, at) in rows.decode((String, Int64, Int64, String?, Int64?).self) {
                cursors[name] = DestinationCursor(name: name, position: EventPosition(major: major, minor: minor), lastError: error,
                                                  lastErrorAt: at.map(Timestamp.init(nanoseconds:)))
            }
            return cursors
        }
    }

    public func saveDestinationCursor(_ cursor: DestinationCursor) async throws(KilnError) {
        try await run("save a destination cursor") {
            try await query("""
                INSERT INTO event_destinations (name, major, minor, last_error, last_error_at)
                VALUES (\(cursor.name), \(cursor.position.major), \(cursor.position.minor), \(cursor.lastError), \(cursor.lastErrorAt?.nanoseconds))
                ON CONFLICT (name) DO UPDATE SET major = EXCLUDED.major, minor = EXCLUDED.minor, last_error = EXCLUDED.last_error,
                  last_error_at = EXCLUDED.last_error_at
                """, logger: logger)
        }
    }

    /// One batch, as one statement (row locks on the rows it deletes only; no table lock).
    public func purge(before: Timestamp, limit: Int) async throws(KilnError) -> PurgeResult {
        try await run("purge old messages") {
            let rows = try await query("""
                WITH old AS (
                  SELECT id, content_id FROM messages WHERE state >= \(MessageState.delivered.rawValue) AND updated_at < \(before.nanoseconds)
                  ORDER BY updated_at LIMIT \(limit) FOR UPDATE SKIP LOCKED),
                gone AS (DELETE FROM messages m USING old WHERE m.id = old.id RETURNING m.content_id),
                unused AS (
                  DELETE FROM contents c WHERE c.id IN (SELECT DISTINCT content_id FROM gone)
                    AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.content_id = c.id AND m.id NOT IN (SELECT id FROM old))
                    AND NOT EXISTS (SELECT 1 FROM campaigns WHERE content_id = c.id)
                  RETURNING 1),
                oldest AS (SELECT id FROM events ORDER BY id LIMIT \(limit)),
                expired AS (DELETE FROM events e USING oldest WHERE e.id = oldest.id AND e.time < \(before.nanoseconds) RETURNING 1)
                SELECT (SELECT count(*) FROM gone), (SELECT count(*) FROM unused), (SELECT count(*) FROM expired)
                """, logger: logger)
            var result = PurgeResult()
            for try await (messages, contents, events) in rows.decode((Int, Int, Int).self) {
                result = PurgeResult(messages: messages, contents: contents, events: events)
            }
            return result
        }
    }
}
