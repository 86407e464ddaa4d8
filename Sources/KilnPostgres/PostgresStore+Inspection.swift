import KilnCore
import KilnStore
import PostgresNIO

/// What the operator's inspection commands read (`kiln events`, `kiln queue`) and the one
/// thing they change (`kiln queue retry`), as `SQLiteStore` does them.
extension PostgresStore {
    /// The newest events by id, `LIMIT`ed, then turned oldest first. A condition not asked
    /// for is bound as NULL (or an empty array) and folded away by the planner; a campaign
    /// goes through its messages to `events_message`. Events of transactions still running
    /// are not seen, as in every read.
    public func recentEvents(matching filter: EventQuery, limit: Int) async throws(KilnError) -> [StoredEvent] {
        guard limit > 0 else { return [] }
        let kinds = filter.kinds.map(\.rawValue).sorted()
        return try await run("read recent events") {
            let rows = try await query("""
                SELECT e.txid, e.id, \(unescaped: Self.eventColumns), m.config_set, c.campaign, m.content_id, m.tenant, m.metadata
                FROM events e LEFT JOIN messages m ON m.id = e.message_id LEFT JOIN contents c ON c.id = m.content_id
                WHERE (\(filter.recipient)::text IS NULL OR e.recipient = \(filter.recipient))
                  AND (cardinality(\(kinds)::text[]) = 0 OR e.kind = ANY(\(kinds)::text[]))
                  AND (\(filter.since?.nanoseconds)::bigint IS NULL OR e.time >= \(filter.since?.nanoseconds))
                  AND (\(filter.campaign)::text IS NULL OR e.message_id IN (
                    SELECT cm.id FROM contents cc JOIN messages cm ON cm.content_id = cc.id WHERE cc.campaign = \(filter.campaign)))
                ORDER BY e.id DESC LIMIT \(limit)
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
            return events.reversed()
        }
    }

    /// The waiting messages through `messages_ready`'s condition, the leased ones through
    /// `messages_leased`'s: final messages are never read.
    public func queueSummary() async throws(KilnError) -> [QueueCount] {
        try await run("read the queue") {
            let rows = try await query("""
                SELECT provider, state, CASE WHEN state = \(MessageState.deferred.rawValue) THEN source_ip END AS ip, count(*), min(next_attempt_at)
                FROM messages WHERE state IN (0, 2) GROUP BY provider, state, ip
                UNION ALL
                SELECT provider, state, NULL, count(*), NULL FROM messages WHERE state = \(MessageState.leased.rawValue) GROUP BY provider, state
                """, logger: logger)
            var counts: [QueueCount] = []
            for try await (provider, state, ip, count, due) in rows.decode((String, Int, String?, Int, Int64?).self) {
                guard let state = MessageState(rawValue: state) else { continue }
                counts.append(QueueCount(provider: MailboxProvider(provider), state: state, sourceIP: ip, count: count,
                                         nextDue: due.map(Timestamp.init(nanoseconds:))))
            }
            return counts.sorted { ($0.provider.id, $0.state.rawValue, $0.sourceIP ?? "") < ($1.provider.id, $1.state.rawValue, $1.sourceIP ?? "") }
        }
    }

    /// One statement; a message leased meanwhile by a node is no longer deferred when the
    /// update reaches its row (read committed re-checks the condition), and stays leased.
    public func retryNow(provider: MailboxProvider?, recipient: String?, now: Timestamp) async throws(KilnError) -> Int {
        try await run("make deferred messages due") {
            let rows = try await query("""
                WITH due AS (
                  UPDATE messages SET next_attempt_at = \(now.nanoseconds), updated_at = \(now.nanoseconds)
                  WHERE state IN (0, 2) AND state = \(MessageState.deferred.rawValue) AND next_attempt_at > \(now.nanoseconds)
                    AND (\(provider?.id)::text IS NULL OR provider = \(provider?.id))
                    AND (\(recipient)::text IS NULL OR recipient = \(recipient))
                  RETURNING 1)
                SELECT count(*) FROM due
                """, logger: logger)
            var count = 0
            for try await n in rows.decode(Int.self) { count = n }
            return count
        }
    }
}
