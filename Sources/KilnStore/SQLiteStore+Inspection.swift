import Foundation
import GRDB
import KilnCore

/// What the operator's inspection commands read (`kiln events`, `kiln queue`) and the one
/// thing they change (`kiln queue retry`).
extension SQLiteStore {
    /// The newest events first by row id, `LIMIT`ed, then turned oldest first. A campaign
    /// goes through its messages to `events_message`; the recipient, kind and time are
    /// checked on the rows read (no index: the limit bounds the work when they match).
    public func recentEvents(matching filter: EventQuery, limit: Int) async throws(KilnError) -> [StoredEvent] {
        guard limit > 0 else { return [] }
        return try await wrapAsync("read recent events") {
            try await pool.read { db in
                var conditions: [String] = []
                var arguments = StatementArguments()
                if let recipient = filter.recipient {
                    conditions.append("e.recipient = ?")
                    arguments += [recipient]
                }
                if !filter.kinds.isEmpty {
                    conditions.append("e.kind IN (\(filter.kinds.map { _ in "?" }.joined(separator: ", ")))")
                    arguments += StatementArguments(filter.kinds.map(\.rawValue).sorted())
                }
                if let since = filter.since {
                    conditions.append("e.time >= ?")
                    arguments += [since.nanoseconds]
                }
                if let campaign = filter.campaign {
                    conditions.append("""
                        e.message_id IN (SELECT cm.id FROM contents cc JOIN messages cm ON cm.content_id = cc.id WHERE cc.campaign = ?)
                        """)
                    arguments += [campaign]
                }
                arguments += [limit]
                let condition = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
                return try Row.fetchAll(db, sql: """
                    SELECT e.id, e.time, e.kind, e.message_id, e.recipient, e.provider, e.source_ip, e.code, e.status, e.text, e.detail,
                           e.class, e.reason, e.attempt, e.host, c.config_set, c.campaign, m.content_id, c.tenant, m.metadata
                    FROM events e LEFT JOIN messages m ON m.id = e.message_id LEFT JOIN contents c ON c.id = m.content_id
                    \(condition) ORDER BY e.id DESC LIMIT ?
                    """, arguments: arguments).reversed().compactMap { row in
                    guard let kind = DeliveryEvent.Kind(rawValue: row[2]) else { return nil }
                    let id: Int64 = row[0]
                    return StoredEvent(position: EventPosition(minor: id), id: id, event: Self.event(kind, row), configurationSet: row[15],
                                       campaign: row[16], contentID: row[17], tenant: row[18], metadata: (row[19] as Data?).map { [UInt8]($0) })
                }
            }
        }
    }

    /// Two reads, each through its partial index's condition (`messages_ready` for the
    /// waiting messages, `messages_leased`), so that final messages are never read.
    public func queueSummary() async throws(KilnError) -> [QueueCount] {
        try await wrapAsync("read the queue") {
            try await pool.read { db in
                let waiting = try Row.fetchAll(db, sql: """
                    SELECT provider, state, CASE WHEN state = \(MessageState.deferred.rawValue) THEN source_ip END AS ip, COUNT(*), MIN(next_attempt_at)
                    FROM messages WHERE \(MessageState.dueSQL) GROUP BY provider, state, ip
                    """)
                let leased = try Row.fetchAll(db, sql: """
                    SELECT provider, state, NULL, COUNT(*), NULL FROM messages WHERE state = \(MessageState.leased.rawValue) GROUP BY provider
                    """)
                return (waiting + leased).compactMap { row -> QueueCount? in
                    guard let state = MessageState(rawValue: row[1]) else { return nil }
                    return QueueCount(provider: MailboxProvider(row[0] as String), state: state, sourceIP: row[2], count: row[3],
                                      nextDue: (row[4] as Int64?).map(Timestamp.init(nanoseconds:)))
                }.sorted { ($0.provider.id, $0.state.rawValue, $0.sourceIP ?? "") < ($1.provider.id, $1.state.rawValue, $1.sourceIP ?? "") }
            }
        }
    }

    /// One update of the deferred messages due after `now`, found through `messages_ready`
    /// (its condition is repeated for the planner); `state = deferred` keeps leased and
    /// final messages out.
    public func retryNow(provider: MailboxProvider?, recipient: String?, now: Timestamp) async throws(KilnError) -> Int {
        try await wrapAsync("make deferred messages due") {
            try await pool.write { db in
                var sql = """
                    UPDATE messages SET next_attempt_at = ?, updated_at = ?
                    WHERE \(MessageState.dueSQL) AND state = \(MessageState.deferred.rawValue) AND next_attempt_at > ?
                    """
                var arguments: StatementArguments = [now.nanoseconds, now.nanoseconds, now.nanoseconds]
                if let provider {
                    sql += " AND provider = ?"
                    arguments += [provider.id]
                }
                if let recipient {
                    sql += " AND recipient = ?"
                    arguments += [recipient]
                }
                try db.execute(sql: sql, arguments: arguments)
                return db.changesCount
            }
        }
    }
}
