import Foundation
import KilnCore
import KilnStore
import Logging
import NIOCore
import PostgresNIO

// The suppression list, the reputation counters, feedback lookups and campaigns: the same
// semantics as SQLiteStore's.
extension PostgresStore {
    // MARK: Suppression

    @discardableResult
    public func suppress(_ entries: [SuppressionEntry], replace: Bool) async throws(KilnError) -> Int {
        try await transaction("suppress") { [logger] connection in try await Self.suppress(entries, replace: replace, connection: connection, logger: logger) }
    }

    /// Adds entries in one statement; an address already in that scope keeps its entry
    /// unless `replace`. Returns how many rows were written.
    static func suppress(_ entries: [SuppressionEntry], replace: Bool, connection: Transaction, logger: Logger) async throws -> Int {
        guard !entries.isEmpty else { return 0 }
        // One row per (scope, address) in a statement: the first wins, or the last when replacing.
        var unique: [String: SuppressionEntry] = [:]
        var order: [String] = []
        for entry in entries {
            let key = (entry.scope ?? "") + "\u{0}" + entry.address
            if unique[key] == nil { order.append(key) } else if !replace { continue }
            unique[key] = entry
        }
        let list = order.compactMap { unique[$0] }
        let conflict = replace
            ? "DO UPDATE SET reason = EXCLUDED.reason, source = EXCLUDED.source, created_at = EXCLUDED.created_at"
            : "DO NOTHING"
        let rows = try await connection.query("""
            WITH added AS (
              INSERT INTO suppression_list (scope, address, reason, source, created_at)
              SELECT * FROM UNNEST(\(list.map { $0.scope ?? "" })::text[], \(list.map(\.address))::text[], \(list.map(\.reason.rawValue))::text[],
                                   \(list.map(\.source))::text[], \(list.map(\.createdAt.nanoseconds))::bigint[])
              ON CONFLICT (scope, address) \(unescaped: conflict)
              RETURNING 1)
            SELECT count(*) FROM added
            """, logger: logger)
        var added = 0
        for try await n in rows.decode(Int.self) { added = n }
        return added
    }

    @discardableResult
    public func unsuppress(_ address: String, scope: String?) async throws(KilnError) -> Bool {
        try await run("remove suppression") {
            let rows = try await query("DELETE FROM suppression_list WHERE scope = \(scope ?? "") AND address = \(address.lowercased()) RETURNING 1", logger: logger)
            var removed = false
            for try await _ in rows { removed = true }
            return removed
        }
    }

    public func suppression(of address: String, scope: String?) async throws(KilnError) -> SuppressionEntry? {
        try await run("read suppression") {
            let rows = try await query("""
                SELECT scope, address, reason, source, created_at FROM suppression_list
                WHERE address = \(address.lowercased()) AND scope IN ('', \(scope ?? "")) ORDER BY scope LIMIT 1
                """, logger: logger)
            for try await row in rows.decode((String, String, String, String, Int64).self) { return Self.entry(row) }
            return nil
        }
    }

    public func suppressions(of addresses: [String], scope: String) async throws(KilnError) -> [String: SuppressionReason] {
        guard !addresses.isEmpty else { return [:] }
        return try await run("read suppressions") {
            let lowered = addresses.map { $0.lowercased() }
            let rows = try await query("""
                SELECT DISTINCT ON (address) address, reason FROM suppression_list
                WHERE address = ANY(\(Array(Set(lowered)))::text[]) AND scope IN ('', \(scope)) ORDER BY address, scope
                """, logger: logger)
            var byAddress: [String: SuppressionReason] = [:]
            for try await (address, reason) in rows.decode((String, String).self) {
                if let reason = SuppressionReason(rawValue: reason) { byAddress[address] = reason }
            }
            var found: [String: SuppressionReason] = [:]
            for (address, lower) in zip(addresses, lowered) {
                if let reason = byAddress[lower] { found[address] = reason }
            }
            return found
        }
    }

    public func suppressionPage(reason: SuppressionReason?, pageSize: Int, after token: String?) async throws(KilnError) -> SuppressionPage {
        let size = max(1, min(pageSize, 10_000))
        let after = try SuppressionPage.cursor(token)
        return try await run("list suppressions") {
            // COLLATE "C": byte order, the order of the keyset and of SQLite's list.
            let rows = try await query("""
                SELECT scope, address, reason, source, created_at FROM suppression_list
                WHERE (\(reason == nil) OR reason = \(reason?.rawValue ?? ""))
                  AND (\(after == nil) OR (scope COLLATE "C", address COLLATE "C") > (\(after?.scope ?? "") COLLATE "C", \(after?.address ?? "") COLLATE "C"))
                ORDER BY scope COLLATE "C", address COLLATE "C" LIMIT \(size + 1)
                """, logger: logger)
            var entries: [SuppressionEntry] = []
            for try await row in rows.decode((String, String, String, String, Int64).self) { entries.append(Self.entry(row)) }
            return SuppressionPage(reading: entries, size: size)
        }
    }

    public func suppressionTotal() async throws(KilnError) -> Int {
        try await run("count suppressions") {
            var total = 0
            for try await n in try await query("SELECT count(*) FROM suppression_list", logger: logger).decode(Int.self) { total = n }
            return total
        }
    }

    public func suppressionCounts() async throws(KilnError) -> [SuppressionReason: Int] {
        try await run("count suppressions") {
            var counts: [SuppressionReason: Int] = [:]
            for try await (reason, n) in try await query("SELECT reason, count(*) FROM suppression_list GROUP BY reason", logger: logger).decode((String, Int).self) {
                if let reason = SuppressionReason(rawValue: reason) { counts[reason] = n }
            }
            return counts
        }
    }

    static func entry(_ row: (String, String, String, String, Int64)) -> SuppressionEntry {
        SuppressionEntry(address: row.1, scope: row.0, reason: SuppressionReason(rawValue: row.2) ?? .manual, source: row.3, createdAt: Timestamp(nanoseconds: row.4))
    }

    // MARK: Reputation and feedback

    static func hour(of time: Timestamp) -> Int64 { ReputationScope.hour(of: time) }

    /// Adds feedback's hard bounces and complaints to their configuration sets' and their
    /// tenants' (`tenant:NAME`) counters for the current hour (sends are counted where
    /// outcomes are recorded: `recording`).
    static func count(bounces: [MessageID], complaints: [MessageID], now: Timestamp, connection: Transaction, logger: Logger) async throws {
        for (column, ids) in [("bounces", bounces), ("complaints", complaints)] where !ids.isEmpty {
            try await connection.query("""
                WITH m AS (SELECT config_set, tenant FROM messages WHERE id = ANY(\(ids.map(\.rawValue))::bigint[]))
                INSERT INTO reputation_hours (scope, hour, \(unescaped: column))
                SELECT scope, \(hour(of: now)), count(*)
                FROM (SELECT config_set AS scope FROM m UNION ALL SELECT \(PausedScope.tenantPrefix) || tenant FROM m) AS u GROUP BY scope
                ON CONFLICT (scope, hour) DO UPDATE SET \(unescaped: column) = reputation_hours.\(unescaped: column) + EXCLUDED.\(unescaped: column)
                """, logger: logger)
        }
    }

    @discardableResult
    public func recordFeedback(events: [DeliveryEvent], bounces: [MessageID], complaints: [MessageID], suppressions: [SuppressionEntry], now: Timestamp)
        async throws(KilnError) -> Int {
        try await transaction("record feedback") { [logger] connection in
            if !events.isEmpty { try await connection.query(Self.recording([], events: events, now: now)) }
            try await Self.count(bounces: bounces, complaints: complaints, now: now, connection: connection, logger: logger)
            return try await Self.suppress(suppressions, replace: false, connection: connection, logger: logger)
        }
    }

    public func reputationHours(now: Timestamp, hours: Int) async throws(KilnError) -> [String: [ReputationHour]] {
        try await run("read reputation") {
            var result: [String: [ReputationHour]] = [:]
            let rows = try await query("""
                SELECT scope, hour, sent, bounces, complaints FROM reputation_hours WHERE hour > \(Self.hour(of: now) - Int64(hours)) ORDER BY scope, hour
                """, logger: logger)
            for try await (scope, hour, sent, bounces, complaints) in rows.decode((String, Int64, Int, Int, Int).self) {
                result[scope, default: []].append(ReputationHour(hour: hour, sent: sent, bounces: bounces, complaints: complaints))
            }
            return result
        }
    }

    public func reputationWindowStart(scope: String) async throws(KilnError) -> Int64? {
        try await run("read guard") {
            var start: Int64?
            for try await value in try await query("SELECT value FROM control WHERE key = \("guard-since:" + scope)", logger: logger).decode(String.self) {
                start = Int64(value)
            }
            return start
        }
    }

    public func restartReputationWindow(scope: String, now: Timestamp) async throws(KilnError) {
        try await run("write guard") {
            try await query("""
                INSERT INTO control (key, value) VALUES (\("guard-since:" + scope), \(String(Self.hour(of: now) + 1)))
                ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value
                """, logger: logger)
        }
    }

    /// The message a piece of feedback is about: by id, else the latest message sent to
    /// the recipient among the most recent 200,000 (as SQLiteStore: no recipient index).
    public func feedbackTarget(messageID: MessageID?, recipient: String?) async throws(KilnError) -> (id: MessageID, configurationSet: String, recipient: String)? {
        try await run("find message") {
            let rows: PostgresRowSequence
            if let messageID {
                rows = try await query("SELECT id, config_set, recipient FROM messages WHERE id = \(messageID.rawValue)", logger: logger)
            } else if let recipient {
                let sent = [MessageState.delivered, .bounced, .deferred, .expired].map(\.rawValue)
                rows = try await query("""
                    SELECT id, config_set, recipient FROM messages
                    WHERE id > (SELECT COALESCE(MAX(id), 0) FROM messages) - 200000 AND lower(recipient) = \(recipient.lowercased())
                      AND attempts > 0 AND state = ANY(\(sent)::bigint[])
                    ORDER BY id DESC LIMIT 1
                    """, logger: logger)
            } else {
                return nil
            }
            for try await (id, set, address) in rows.decode((Int64, String, String).self) { return (MessageID(id), set, address) }
            return nil
        }
    }

    // MARK: Campaigns

    public func createCampaign(id: String, content: StoredContent, recipientsFile: String, now: Timestamp) async throws(KilnError) -> CampaignRecord {
        try await transaction("create campaign") { [logger] connection in
            try await connection.query("SELECT pg_advisory_xact_lock(hashtext(\("kiln-campaign:" + id))::bigint)", logger: logger)
            if let existing = try await Self.campaign(id: id, connection: connection, logger: logger) { return existing }
            try await connection.query("""
                WITH c AS (
                  INSERT INTO contents (data, envelope_domain, config_set, campaign, from_domain, is_template, tenant)
                  VALUES (\(ByteBuffer(bytes: content.data)), \(content.envelopeDomain), \(content.configurationSet), \(content.campaign), \(content.fromDomain),
                          \(content.isTemplate), \(content.tenant))
                  RETURNING id)
                INSERT INTO campaigns (id, content_id, recipients_file, config_set, created_at)
                SELECT \(id), c.id, \(recipientsFile), \(content.configurationSet), \(now.nanoseconds) FROM c
                """, logger: logger)
            guard let created = try await Self.campaign(id: id, connection: connection, logger: logger) else {
                throw KilnError(.storeFailure, "the campaign '\(id)' was not stored")
            }
            return created
        }
    }

    public func campaign(id: String) async throws(KilnError) -> CampaignRecord? {
        try await transaction("read campaign") { [logger] connection in try await Self.campaign(id: id, connection: connection, logger: logger) }
    }

    static func campaign(id: String, connection: Transaction, logger: Logger) async throws -> CampaignRecord? {
        let rows = try await connection.query("""
            SELECT id, content_id, recipients_file, config_set, rows_read, rejected_rows, suppressed, duplicates, accepted, ingest_complete
            FROM campaigns WHERE id = \(id)
            """, logger: logger)
        for try await r in rows.decode((String, Int64, String, String, Int, Int, Int, Int, Int, Bool).self) {
            return CampaignRecord(id: r.0, contentID: r.1, recipientsFile: r.2, configurationSet: r.3, rowsRead: r.4, rejectedRows: r.5,
                                  suppressed: r.6, duplicates: r.7, accepted: r.8, ingestComplete: r.9)
        }
        return nil
    }

    /// Queues a batch of rows (suppressed addresses skipped and counted) with the new
    /// resume point, in one transaction of two statements.
    @discardableResult
    public func ingest(campaign: String, contentID: Int64, rows: [CampaignRow], rowsRead: Int, rejected: Int, duplicates: Int, complete: Bool, now: Timestamp)
        async throws(KilnError) -> Int {
        try await transaction("ingest campaign rows") { [logger] connection in
            var queued = 0
            if !rows.isEmpty {
                let result = try await connection.query("""
                    WITH r AS (
                      SELECT * FROM UNNEST(\(rows.map(\.provider.id))::text[], \(rows.map(\.address))::text[],
                                           \(rows.map { ByteBuffer(bytes: $0.variables) })::bytea[]) WITH ORDINALITY AS r(provider, recipient, variables, n)),
                    s AS (SELECT k.config_set, c.tenant FROM campaigns k, contents c WHERE k.id = \(campaign) AND c.id = \(contentID)),
                    added AS (
                      INSERT INTO messages (content_id, config_set, tenant, state, provider, recipient, variables, created_at, next_attempt_at, updated_at)
                      SELECT \(contentID), s.config_set, s.tenant, 0, r.provider, r.recipient, r.variables, \(now.nanoseconds), \(now.nanoseconds),
                             \(now.nanoseconds)
                      FROM r, s
                      WHERE NOT EXISTS (SELECT 1 FROM suppression_list l WHERE l.scope IN ('', s.config_set) AND l.address = lower(r.recipient))
                      ORDER BY r.n
                      RETURNING id, recipient, provider),
                    accepted AS (
                      INSERT INTO events (time, kind, message_id, recipient, provider)
                      SELECT \(now.nanoseconds), \(DeliveryEvent.Kind.accepted.rawValue), id, recipient, provider FROM added ORDER BY id)
                    SELECT count(*) FROM added
                    """, logger: logger)
                for try await n in result.decode(Int.self) { queued = n }
            }
            try await connection.query("""
                UPDATE campaigns SET rows_read = \(rowsRead), rejected_rows = rejected_rows + \(rejected), suppressed = suppressed + \(rows.count - queued),
                  duplicates = duplicates + \(duplicates), accepted = accepted + \(queued), ingest_complete = \(complete)
                WHERE id = \(campaign)
                """, logger: logger)
            return queued
        }
    }

    public func recipients(contentID: Int64, after: MessageID?, limit: Int) async throws(KilnError) -> (addresses: [String], next: MessageID?) {
        try await run("read campaign recipients") {
            let rows = try await query("""
                SELECT id, recipient FROM messages WHERE content_id = \(contentID) AND id > \(after?.rawValue ?? 0) ORDER BY id LIMIT \(limit)
                """, logger: logger)
            var addresses: [String] = []
            var last: Int64?
            for try await (id, address) in rows.decode((Int64, String).self) {
                addresses.append(address)
                last = id
            }
            return (addresses, addresses.count < limit ? nil : last.map(MessageID.init))
        }
    }

    public func campaignCounts(contentID: Int64) async throws(KilnError) -> (counts: [StateCount], spilled: Int, transientFailures: Int) {
        try await run("count campaign") {
            var counts: [StateCount] = []
            for try await (provider, state, n) in try await query("""
                SELECT provider, state, count(*) FROM messages WHERE content_id = \(contentID) GROUP BY provider, state
                """, logger: logger).decode((String, Int, Int).self) {
                guard let state = MessageState(rawValue: state) else { continue }
                counts.append(StateCount(state: state, provider: MailboxProvider(provider), count: n))
            }
            var spilled = 0
            var transient = 0
            for try await (s, t) in try await query("""
                SELECT count(*) FILTER (WHERE state = \(MessageState.delivered.rawValue) AND source_ip = \(SendingPath.shared.description)),
                       count(*) FILTER (WHERE state = \(MessageState.deferred.rawValue) AND attempts > 0)
                FROM messages WHERE content_id = \(contentID)
                """, logger: logger).decode((Int, Int).self) {
                spilled = s
                transient = t
            }
            return (counts, spilled, transient)
        }
    }

    public func countEvents(kind: DeliveryEvent.Kind, contentID: Int64) async throws(KilnError) -> Int {
        try await run("count events") {
            var total = 0
            for try await n in try await query("""
                SELECT count(*) FROM events e JOIN messages m ON m.id = e.message_id WHERE e.kind = \(kind.rawValue) AND m.content_id = \(contentID)
                """, logger: logger).decode(Int.self) {
                total = n
            }
            return total
        }
    }
}
