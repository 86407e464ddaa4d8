import GRDB
import KilnCore

/// Hourly counters of sends, hard bounces and complaints per configuration set, which
/// the reputation guard reads; and the guard's persisted decisions.
extension SQLiteStore {
    static func hour(of time: Timestamp) -> Int64 { ReputationScope.hour(of: time) }

    /// Adds to the counters of the messages' configuration sets for the current hour.
    static func count(sent: [MessageID], bounces: [MessageID], complaints: [MessageID], now: Timestamp, db: Database) throws {
        let hour = Self.hour(of: now)
        for (column, ids) in [("sent", sent), ("bounces", bounces), ("complaints", complaints)] where !ids.isEmpty {
            for chunk in stride(from: 0, to: ids.count, by: 500).map({ Array(ids[$0..<min($0 + 500, ids.count)]) }) {
                let placeholders = chunk.map { _ in "?" }.joined(separator: ",")
                let rows = try Row.fetchAll(db, sql: """
                    SELECT c.config_set, COUNT(*) FROM messages m JOIN contents c ON c.id = m.content_id
                    WHERE m.id IN (\(placeholders)) GROUP BY c.config_set
                    UNION ALL
                    SELECT 'tenant:' || c.tenant, COUNT(*) FROM messages m JOIN contents c ON c.id = m.content_id
                    WHERE m.id IN (\(placeholders)) GROUP BY c.tenant
                    """, arguments: StatementArguments(chunk.map(\.rawValue) + chunk.map(\.rawValue)))
                for row in rows {
                    let scope: String = row[0]
                    let count: Int = row[1]
                    try db.execute(sql: """
                        INSERT INTO reputation_hours (scope, hour, \(column)) VALUES (?, ?, ?)
                        ON CONFLICT (scope, hour) DO UPDATE SET \(column) = \(column) + excluded.\(column)
                        """, arguments: [scope, hour, count])
                }
            }
        }
    }

    /// Records feedback that came back for stored messages: hard bounces and complaints
    /// count against their configuration sets, events are appended, and addresses are
    /// suppressed, all in one transaction.
    /// - Returns: how many addresses were newly suppressed.
    @discardableResult
    public func recordFeedback(events: [DeliveryEvent], bounces: [MessageID], complaints: [MessageID],
                               suppressions: [SuppressionEntry], now: Timestamp) async throws(KilnError) -> Int {
        try await wrapAsync("record feedback") {
            try await pool.write { db in
                try Self.insert(events, db: db)
                try Self.count(sent: [], bounces: bounces, complaints: complaints, now: now, db: db)
                return try Self.suppress(suppressions, replace: false, db: db)
            }
        }
    }

    /// The counters of every configuration set, for the last `hours` hours.
    public func reputationHours(now: Timestamp, hours: Int) async throws(KilnError) -> [String: [ReputationHour]] {
        try await wrapAsync("read reputation") {
            try await pool.read { db in
                var result: [String: [ReputationHour]] = [:]
                let rows = try Row.fetchAll(db, sql: "SELECT scope, hour, sent, bounces, complaints FROM reputation_hours WHERE hour > ?",
                                            arguments: [Self.hour(of: now) - Int64(hours)])
                for row in rows {
                    result[row[0], default: []].append(ReputationHour(hour: row[1], sent: row[2], bounces: row[3], complaints: row[4]))
                }
                return result
            }
        }
    }

    /// The hour from which the guard counts for `scope` (`*`: the account): set when an
    /// operator resumes a scope the guard paused, so that the old rates do not pause it again.
    public func reputationWindowStart(scope: String) async throws(KilnError) -> Int64? {
        try await wrapAsync("read guard") {
            try await pool.read { db in
                try String.fetchOne(db, sql: "SELECT value FROM control WHERE key = ?", arguments: ["guard-since:" + scope]).flatMap { Int64($0) }
            }
        }
    }

    public func restartReputationWindow(scope: String, now: Timestamp) async throws(KilnError) {
        try await wrapAsync("write guard") {
            try await pool.write { db in
                try db.execute(sql: "INSERT OR REPLACE INTO control (key, value) VALUES (?, ?)",
                               arguments: ["guard-since:" + scope, String(Self.hour(of: now) + 1)])
            }
        }
    }

    /// Finds the stored message a piece of feedback is about: by id (from a verified
    /// return path; the caller compares its recipient), else the latest message Kiln has
    /// sent to that recipient (attempted at least once: delivered, bounced, deferred or
    /// expired) among the most recent 200,000 (there is no index on recipients: it would
    /// slow every enqueue).
    public func feedbackTarget(messageID: MessageID?, recipient: String?) async throws(KilnError) -> (id: MessageID, configurationSet: String, recipient: String)? {
        try await wrapAsync("find message") {
            try await pool.read { db in
                if let messageID {
                    return try Row.fetchOne(db, sql: """
                        SELECT m.id, c.config_set, m.recipient FROM messages m JOIN contents c ON c.id = m.content_id WHERE m.id = ?
                        """, arguments: [messageID.rawValue]).map { (MessageID($0[0]), $0[1], $0[2]) }
                }
                guard let recipient else { return nil }
                let sent = [MessageState.delivered, .bounced, .deferred, .expired].map { String($0.rawValue) }.joined(separator: ", ")
                return try Row.fetchOne(db, sql: """
                    SELECT m.id, c.config_set, m.recipient FROM messages m JOIN contents c ON c.id = m.content_id
                    WHERE m.id > (SELECT COALESCE(MAX(id), 0) FROM messages) - 200000 AND m.recipient = ? COLLATE NOCASE
                      AND m.attempts > 0 AND m.state IN (\(sent))
                    ORDER BY m.id DESC LIMIT 1
                    """, arguments: [recipient]).map { (MessageID($0[0]), $0[1], $0[2]) }
            }
        }
    }
}
