import Foundation
import GRDB
import KilnCore
import Synchronization

/// The durable store on SQLite (WAL, `synchronous = FULL`): the queue, its contents,
/// events and control flags. Writes are serialised by GRDB on its own queue (never on
/// the cooperative pool); submits from concurrent callers are group-committed, many per
/// transaction.
public final class SQLiteStore: MessageStore {
    public let path: String
    public var location: String { path }
    let pool: DatabasePool
    private let committer: GroupCommitter
    /// The schema migrations applied when this store was opened (0 for a current one).
    let migrationsAtOpen: Int

    /// Opens (creating and migrating when needed) the store at `path`. Its files are
    /// created with mode 0600 (they hold addresses and tokens).
    public init(path: String) throws(KilnError) {
        self.path = path
        var configuration = GRDB.Configuration()
        configuration.busyMode = .timeout(30)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
            guard !db.configuration.readonly else { return }
            // Retention frees pages every day: a new store gives them back to the file
            // system (`incrementalVacuum()` after each purge batch) instead of keeping
            // them for ever. It takes effect only before the first table is created; an
            // older store keeps its mode (and reuses its freed pages). The WAL is cut back
            // to 64 MB after each checkpoint, whatever one large transaction grew it to.
            try db.execute(sql: "PRAGMA auto_vacuum = INCREMENTAL")
            try db.execute(sql: "PRAGMA journal_size_limit = 67108864")
        }
        do {
            let directory = (path as NSString).deletingLastPathComponent
            if !directory.isEmpty { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
            try StoreFileMode.prepare(path)
            pool = try DatabasePool(path: path, configuration: configuration)
            // GRDB switches the writer to WAL after `prepareDatabase`, setting `synchronous
            // = NORMAL` (a commit reaches the disk only at the next checkpoint): set FULL
            // again, so that a commit, and with it every `250`/`200`, is on disk.
            try pool.writeWithoutTransaction { try $0.execute(sql: "PRAGMA synchronous = FULL") }
            StoreFileMode.tighten(path)
            let migrator = Schema.migrator
            let before = try pool.read { try migrator.appliedIdentifiers($0).count }
            try migrator.migrate(pool)
            migrationsAtOpen = try pool.read { try migrator.appliedIdentifiers($0).count } - before
        } catch let error as KilnError {
            throw error
        } catch {
            throw KilnError(.storeFailure, "cannot open the store", location: path, underlying: error)
        }
        committer = GroupCommitter()
    }

    /// The writer's `synchronous` setting (2: FULL, every commit synced).
    public func writerSynchronous() async throws(KilnError) -> Int {
        try await wrapAsync("read the synchronous setting") { try await pool.write { try Int.fetchOne($0, sql: "PRAGMA synchronous") ?? -1 } }
    }

    /// The schema was migrated when the store opened: the migrations applied then.
    public func migrate() async throws(KilnError) -> Int { migrationsAtOpen }

    func wrapAsync<T>(_ what: String, _ body: () async throws -> T) async throws(KilnError) -> T {
        do {
            return try await body()
        } catch {
            throw KilnError(.storeFailure, "store: \(what) failed", location: path, underlying: error, isTemporary: Self.isTemporary(error))
        }
    }

    /// A full disk, an I/O error, a lock held too long or memory short: SQLite rolled the
    /// transaction back whole, and the same write may succeed later.
    static func isTemporary(_ error: any Error) -> Bool {
        guard let error = error as? DatabaseError else { return false }
        return [.SQLITE_FULL, .SQLITE_IOERR, .SQLITE_BUSY, .SQLITE_LOCKED, .SQLITE_NOMEM].contains(error.resultCode)
    }

    // MARK: Submitting

    /// Stores the submissions durably; returns each one's message ids (one per recipient)
    /// once they are committed. Concurrent calls share transactions.
    public func enqueue(_ submissions: [Submission], now: Timestamp) async throws(KilnError) -> [[MessageID]] {
        try await wrapAsync("enqueue") {
            try await committer.commit(submissions, now: now) { batch in
                try await self.pool.write { db in try Self.insert(batch, now: now, db: db) }
            }
        }
    }

    static func insert(_ submissions: [Submission], now: Timestamp, db: Database) throws -> [[MessageID]] {
        let contentStatement = try db.cachedStatement(sql: """
            INSERT INTO contents (data, envelope_domain, config_set, campaign, from_domain, is_template, tenant) VALUES (?, ?, ?, ?, ?, ?, ?)
            """)
        let messageStatement = try db.cachedStatement(sql: """
            INSERT INTO messages (content_id, state, provider, recipient, variables, created_at, next_attempt_at, updated_at, priority, metadata)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        var result: [[MessageID]] = []
        result.reserveCapacity(submissions.count)
        let before = try Int64.fetchOne(db, sql: "SELECT MAX(id) FROM messages") ?? 0
        for submission in submissions {
            let c = submission.content
            try contentStatement.execute(arguments: [Data(c.data), c.envelopeDomain, c.configurationSet, c.campaign, c.fromDomain, c.isTemplate, c.tenant])
            let contentID = db.lastInsertedRowID
            var ids: [MessageID] = []
            ids.reserveCapacity(submission.recipients.count)
            for r in submission.recipients {
                try messageStatement.execute(arguments: [contentID, r.suppressed == nil ? MessageState.queued.rawValue : MessageState.suppressed.rawValue, r.provider.id, r.address, r.variables.map { Data($0) }, now.nanoseconds, now.nanoseconds, now.nanoseconds, submission.priority, r.metadata.map { Data($0) }])
                ids.append(MessageID(db.lastInsertedRowID))
            }
            result.append(ids)
        }
        try acceptedEvents(after: before, now: now, db: db)
        return result
    }

    // MARK: Delivering

    /// Takes up to `limit` messages whose next attempt is due, leasing them until
    /// `leaseUntil`: first those of a higher priority (transactional mail, highest first),
    /// then the rest, oldest due first. Providers in `excluding` are skipped (they cannot
    /// send now). The result lists the messages in that order.
    /// - Parameters:
    ///   - excluding: providers whose messages stay queued.
    ///   - pausedSets: configuration sets whose messages stay queued.
    public func lease(
        limit: Int, owner: String = "", now: Timestamp, leaseUntil: Timestamp, excluding: Set<MailboxProvider> = [], pausedSets: Set<String> = []
    ) async throws(KilnError) -> [LeasedMessage] {
        guard limit > 0 else { return [] }
        return try await wrapAsync("lease") {
            try await pool.write { db in
                // Priority > 0 first, through the small partial index `messages_ready_priority`;
                // what it leased is no longer due, so the bulk query below is unchanged.
                let urgent = try Self.lease(limit: limit, priorityOnly: true, owner: owner, now: now, leaseUntil: leaseUntil,
                                            excluding: excluding, pausedSets: pausedSets, db: db)
                guard urgent.count < limit else { return urgent }
                return urgent + (try Self.lease(limit: limit - urgent.count, priorityOnly: false, owner: owner, now: now, leaseUntil: leaseUntil,
                                                excluding: excluding, pausedSets: pausedSets, db: db))
            }
        }
    }

    private static func lease(
        limit: Int, priorityOnly: Bool, owner: String, now: Timestamp, leaseUntil: Timestamp, excluding: Set<MailboxProvider>, pausedSets: Set<String>,
        db: Database
    ) throws -> [LeasedMessage] {
        var sql = "SELECT id FROM messages WHERE \(MessageState.dueSQL)\(priorityOnly ? " AND priority > 0" : "") AND next_attempt_at <= ?"
        var arguments: StatementArguments = [now.nanoseconds]
        if !excluding.isEmpty {
            sql += " AND provider NOT IN (\(excluding.map { _ in "?" }.joined(separator: ",")))"
            arguments += StatementArguments(excluding.map(\.id))
        }
        excludeSets(pausedSets, sql: &sql, arguments: &arguments)
        sql += priorityOnly ? " ORDER BY priority DESC, next_attempt_at, id LIMIT ?" : " ORDER BY next_attempt_at LIMIT ?"
        arguments += [limit]
        let rows = try Row.fetchAll(db, sql: """
            UPDATE messages SET state = \(MessageState.leased.rawValue), lease_expires_at = ?, lease_owner = ?, updated_at = ?,
              lease_epoch = lease_epoch + 1
            WHERE id IN (\(sql))
            RETURNING id, content_id, provider, recipient, variables, created_at, attempts, priority, lease_epoch
            """, arguments: [leaseUntil.nanoseconds, owner, now.nanoseconds] + arguments)
        let leased = rows.map { row in
            LeasedMessage(
                id: MessageID(row[0]), epoch: row[8], contentID: row[1], provider: MailboxProvider(row[2] as String),
                recipient: row[3], variables: (row[4] as Data?).map { [UInt8]($0) },
                createdAt: Timestamp(nanoseconds: row[5]), attempts: row[6], priority: row[7])
        }
        // RETURNING comes in the update's order: highest priority first, then id order.
        return priorityOnly ? leased.sorted { $0.priority > $1.priority } : leased
    }

    /// The contents with these ids.
    public func contents(ids: [Int64]) async throws(KilnError) -> [Int64: StoredContent] {
        guard !ids.isEmpty else { return [:] }
        return try await wrapAsync("read contents") {
            try await pool.read { db in
                let list = ids.map(String.init).joined(separator: ",")
                var result: [Int64: StoredContent] = [:]
                for row in try Row.fetchAll(db, sql: "SELECT id, data, envelope_domain, config_set, campaign, from_domain, is_template, tenant FROM contents WHERE id IN (\(list))") {
                    result[row[0]] = StoredContent(data: [UInt8](row[1] as Data), envelopeDomain: row[2], configurationSet: row[3], campaign: row[4],
                                                   fromDomain: row[5], isTemplate: row[6], tenant: row[7])
                }
                return result
            }
        }
    }

    /// Records attempt outcomes and their events in one transaction. An outcome counts
    /// only under its lease's epoch while the message is leased (`MessageStore.record`):
    /// a stale one leaves the message, the suppression list and the reputation counters
    /// as they are, and its message's events give way to one `staleOutcome` event.
    public func record(_ outcomes: [Outcome], events: [DeliveryEvent], now: Timestamp) async throws(KilnError) {
        guard !outcomes.isEmpty || !events.isEmpty else { return }
        try await wrapAsync("record outcomes") {
            try await pool.write { db in
                let update = try db.cachedStatement(sql: """
                    UPDATE messages SET state = ?, next_attempt_at = COALESCE(?, next_attempt_at), lease_expires_at = NULL,
                      attempts = attempts + ?, source_ip = COALESCE(?, source_ip),
                      last_code = COALESCE(?, last_code), last_status = CASE WHEN ? IS NULL THEN last_status ELSE ? END,
                      last_text = COALESCE(?, last_text), updated_at = ?, last_host = COALESCE(?, last_host)
                    WHERE id = ? AND state = \(MessageState.leased.rawValue) AND (? IS NULL OR lease_epoch = ?)
                    """)
                var applied: [Outcome] = []
                var stale: [Outcome] = []
                applied.reserveCapacity(outcomes.count)
                for o in outcomes {
                    try update.execute(arguments: [
                        o.state.rawValue, o.nextAttemptAt?.nanoseconds, o.countsAsAttempt ? 1 : 0, o.via?.description,
                        o.reply?.code, o.reply?.code, o.reply?.enhancedStatus, o.reply?.text, now.nanoseconds, o.host, o.id.rawValue,
                        o.epoch, o.epoch,
                    ])
                    if db.changesCount > 0 {
                        applied.append(o)
                    } else if o.epoch != nil {
                        stale.append(o)
                    }
                }
                try Self.insert(try Self.fencing(events, stale: stale, applied: applied, now: now, db: db), db: db)
                // What the dispatcher decided beside the state (`Outcome+Recording`).
                _ = try Self.suppress(applied.compactMap { $0.suppression(now: now) }, replace: false, db: db)
                try Self.count(sent: applied.filter(\.countsAsSend).map(\.id), bounces: applied.filter(\.countsAsHardBounce).map(\.id), complaints: [],
                               now: now, db: db)
            }
        }
    }

    /// The events to store with a batch whose `stale` outcomes did not count: the events
    /// of their messages are left out (they did not happen as far as the message is
    /// concerned) and one `staleOutcome` event per stale outcome follows the rest.
    static func fencing(_ events: [DeliveryEvent], stale: [Outcome], applied: [Outcome], now: Timestamp, db: Database) throws -> [DeliveryEvent] {
        guard !stale.isEmpty else { return events }
        let staleIDs = Set(stale.map(\.id)).subtracting(applied.map(\.id))
        var kept = events.filter { event in event.messageID.map { !staleIDs.contains($0) } ?? true }
        let lookup = try db.cachedStatement(sql: "SELECT recipient, provider, lease_epoch, state FROM messages WHERE id = ?")
        for o in stale {
            let row = try Row.fetchOne(lookup, arguments: [o.id.rawValue])
            let recipient: String? = row.flatMap { $0[0] }
            let provider: String? = row.flatMap { $0[1] }
            let current = row.map { (epoch: $0[2] as Int64, state: MessageState(rawValue: $0[3]) ?? .queued) }
            kept.append(DeliveryEvent(kind: .staleOutcome, time: now, messageID: o.id, recipient: recipient, provider: provider.map { MailboxProvider($0) },
                                      via: o.via, reply: o.reply, detail: o.staleDetail(now: current), host: o.host))
        }
        return kept
    }

    /// Appends events (for those not tied to an outcome).
    public func append(events: [DeliveryEvent]) async throws(KilnError) {
        guard !events.isEmpty else { return }
        try await wrapAsync("append events") { try await pool.write { db in try Self.insert(events, db: db) } }
    }

    static func insert(_ events: [DeliveryEvent], db: Database) throws {
        guard !events.isEmpty else { return }
        let statement = try db.cachedStatement(sql: """
            INSERT INTO events (time, kind, message_id, recipient, provider, source_ip, code, status, text, detail, host, class, reason, attempt)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        for e in events {
            try statement.execute(arguments: [
                e.time.nanoseconds, e.kind.rawValue, e.messageID?.rawValue, e.recipient, e.provider?.id, e.via?.description,
                e.reply?.code, e.reply?.enhancedStatus, e.reply?.text, e.detail, e.host, e.replyClass?.rawValue, e.reason?.rawValue, e.attempt,
            ])
        }
    }

    /// Returns leased messages to the queue: all of them (`all`, when this process is the
    /// only deliverer: see `DeliveryLock`), or those whose lease expired before `now`.
    @discardableResult
    public func recoverLeases(all: Bool, now: Timestamp) async throws(KilnError) -> Int {
        try await wrapAsync("recover leases") {
            try await pool.write { db in
                if all {
                    try db.execute(sql: "UPDATE messages SET state = \(MessageState.queued.rawValue), lease_expires_at = NULL WHERE state = \(MessageState.leased.rawValue)")
                    return db.changesCount
                }
                return try Self.takeBackExpiredLeases(now: now, db: db)
            }
        }
    }

    /// Returns to the queue the leases that expired before `now`; says how many.
    static func takeBackExpiredLeases(now: Timestamp, db: Database) throws -> Int {
        try db.execute(sql: """
            UPDATE messages SET state = \(MessageState.queued.rawValue), lease_expires_at = NULL
            WHERE state = \(MessageState.leased.rawValue) AND lease_expires_at < ?
            """, arguments: [now.nanoseconds])
        return db.changesCount
    }

    /// Takes the delivery lock (one delivering process per store: `DeliveryLock`) and,
    /// holding it, returns every leased message to the queue: no other deliverer is alive.
    public func beginDelivery(node: String? = nil, now: Timestamp) async throws(KilnError) -> DeliveryClaim {
        let lock = try DeliveryLock(storePath: path)
        return DeliveryClaim(recovered: try await recoverLeases(all: true, now: now), holder: lock)
    }

    /// Renews the owner's leases, then returns to the queue the leases that expired
    /// before `now` (a holder that stopped renewing: with the delivery lock held, a run
    /// that stalled past its lease, or a lessee outside the engine). Says which of the
    /// leases the owner believes it holds are no longer its own (`HeartbeatResult.lost`).
    public func heartbeat(_ heartbeat: NodeHeartbeat, now: Timestamp, leaseUntil: Timestamp) async throws(KilnError) -> HeartbeatResult {
        try await wrapAsync("renew leases") {
            try await pool.write { db in
                try db.execute(sql: "UPDATE messages SET lease_expires_at = ? WHERE state = \(MessageState.leased.rawValue) AND lease_owner = ?",
                               arguments: [leaseUntil.nanoseconds, heartbeat.owner])
                let recovered = try Self.takeBackExpiredLeases(now: now, db: db)
                var lost: [MessageLease] = []
                if !heartbeat.holding.isEmpty {
                    let held = try db.cachedStatement(sql: """
                        SELECT 1 FROM messages WHERE id = ? AND state = \(MessageState.leased.rawValue) AND lease_epoch = ? AND lease_owner = ?
                        """)
                    for lease in heartbeat.holding
                    where try Int.fetchOne(held, arguments: [lease.id.rawValue, lease.epoch, heartbeat.owner]) == nil {
                        lost.append(lease)
                    }
                }
                return HeartbeatResult(recovered: recovered, liveNodes: 1, lost: lost)
            }
        }
    }

    /// One machine, one deliverer: no node list.
    public func nodes() async throws(KilnError) -> [NodeStatus] { [] }

    public func takeQuota(_ quota: String, window: String, node: String, used: Int?, want: Int, limit: Int,
                          now: Timestamp, until: Timestamp) async throws(KilnError) -> QuotaSlice {
        try await wrapAsync("take a quota slice") {
            try await pool.write { db in
                var mine: QuotaSlice?
                var others: [QuotaSlice] = []
                for slice in try Self.quotaSlices(db, quota: quota, window: window) {
                    if slice.node == node { mine = slice } else { others.append(slice) }
                }
                let slice = QuotaSlice.grant(node: node, window: window, mine: mine, others: others, used: used, want: want, limit: limit,
                                             now: now, until: until)
                try db.execute(sql: """
                    INSERT INTO quota_slices (quota, window, node, granted, used, expires_at) VALUES (?, ?, ?, ?, ?, ?)
                    ON CONFLICT (quota, window, node) DO UPDATE SET granted = excluded.granted, used = excluded.used, expires_at = excluded.expires_at
                    """, arguments: [quota, window, node, slice.granted, slice.used, slice.expiresAt.nanoseconds])
                // Earlier windows are of no use any more.
                try db.execute(sql: "DELETE FROM quota_slices WHERE quota = ? AND window < ?", arguments: [quota, window])
                return slice
            }
        }
    }

    public func quotaSlices(_ quota: String, window: String) async throws(KilnError) -> [QuotaSlice] {
        try await wrapAsync("read quota slices") { try await pool.read { db in try Self.quotaSlices(db, quota: quota, window: window) } }
    }

    static func quotaSlices(_ db: Database, quota: String, window: String) throws -> [QuotaSlice] {
        try Row.fetchAll(db, sql: "SELECT node, granted, used, expires_at FROM quota_slices WHERE quota = ? AND window = ? ORDER BY node",
                         arguments: [quota, window]).map { row in
            QuotaSlice(node: row[0], window: window, granted: row[1], used: row[2], expiresAt: Timestamp(nanoseconds: row[3]))
        }
    }

    /// Puts leased messages back as they were, without counting an attempt: those still
    /// leased under the given epoch (a stale release does nothing).
    public func release(_ leases: [MessageLease]) async throws(KilnError) {
        guard !leases.isEmpty else { return }
        try await wrapAsync("release leases") {
            try await pool.write { db in
                let statement = try db.cachedStatement(sql: """
                    UPDATE messages SET state = \(MessageState.queued.rawValue), lease_expires_at = NULL
                    WHERE id = ? AND state = \(MessageState.leased.rawValue) AND lease_epoch = ?
                    """)
                for lease in leases { try statement.execute(arguments: [lease.id.rawValue, lease.epoch]) }
            }
        }
    }

    // MARK: Reading

    /// Message counts by state and provider.
    public func counts() async throws(KilnError) -> [StateCount] {
        try await wrapAsync("count") {
            try await pool.read { db in
                try Row.fetchAll(db, sql: "SELECT state, provider, COUNT(*) FROM messages GROUP BY state, provider ORDER BY state, provider").compactMap { row in
                    guard let state = MessageState(rawValue: row[0]) else { return nil }
                    return StateCount(state: state, provider: MailboxProvider(row[1] as String), count: row[2])
                }
            }
        }
    }

    /// The messages with these ids, in the order given (missing ids are left out).
    public func messages(ids: [MessageID]) async throws(KilnError) -> [MessageRecord] {
        try await wrapAsync("read messages") {
            try await pool.read { db in
                var byID: [MessageID: MessageRecord] = [:]
                for chunk in stride(from: 0, to: ids.count, by: 500).map({ ids[$0..<min($0 + 500, ids.count)] }) {
                    let list = chunk.map { String($0.rawValue) }.joined(separator: ",")
                    for row in try Row.fetchAll(db, sql: """
                        SELECT m.id, m.recipient, m.provider, m.state, m.attempts, m.source_ip, m.last_code, m.last_status, m.last_text, m.next_attempt_at,
                               m.last_host, c.tenant, m.metadata
                        FROM messages m JOIN contents c ON c.id = m.content_id WHERE m.id IN (\(list))
                        """) {
                        let code: Int? = row[6]
                        let record = MessageRecord(
                            id: MessageID(row[0]), recipient: row[1], provider: MailboxProvider(row[2] as String),
                            state: MessageState(rawValue: row[3]) ?? .queued, attempts: row[4], via: (row[5] as String?).map(SendingPath.init),
                            lastReply: code.map { SMTPReply(code: $0, enhancedStatus: row[7], text: row[8] ?? "") },
                            nextAttemptAt: Timestamp(nanoseconds: row[9]), host: row[10], tenant: row[11], metadata: (row[12] as Data?).map { [UInt8]($0) })
                        byID[record.id] = record
                    }
                }
                return ids.compactMap { byID[$0] }
            }
        }
    }

    public func receivingHosts(deliveries: Int) async throws(KilnError) -> [HostCount] {
        try await wrapAsync("read receiving hosts") {
            try await pool.read { db in
                // The newest delivery events, by the events' primary key (no index on kind).
                try Row.fetchAll(db, sql: """
                    SELECT provider, host, COUNT(*) AS n FROM (
                      SELECT provider, host FROM events WHERE kind = ? AND host IS NOT NULL ORDER BY id DESC LIMIT ?)
                    GROUP BY provider, host ORDER BY provider, n DESC, host
                    """, arguments: [DeliveryEvent.Kind.delivery.rawValue, deliveries]).map { row in
                    HostCount(provider: MailboxProvider(row[0] as String? ?? "other"), host: row[1], deliveries: row[2])
                }
            }
        }
    }

    /// The earliest next attempt of a message waiting in the queue, if any.
    /// When the next queued or deferred message outside `pausedSets` comes due.
    public func nextDue(pausedSets: Set<String>, excluding: Set<MailboxProvider>) async throws(KilnError) -> Timestamp? {
        try await wrapAsync("read next due") {
            try await pool.read { db in
                var sql = "SELECT MIN(next_attempt_at) FROM messages WHERE \(MessageState.dueSQL)"
                var arguments: StatementArguments = []
                if !excluding.isEmpty {
                    sql += " AND provider NOT IN (\(excluding.map { _ in "?" }.joined(separator: ",")))"
                    arguments += StatementArguments(excluding.map(\.id))
                }
                Self.excludeSets(pausedSets, sql: &sql, arguments: &arguments)
                return try Int64.fetchOne(db, sql: sql, arguments: arguments).map { Timestamp(nanoseconds: $0) }
            }
        }
    }

    /// Leaves out the paused scopes' messages: configuration sets, and tenants (`tenant:NAME`).
    private static func excludeSets(_ scopes: Set<String>, sql: inout String, arguments: inout StatementArguments) {
        let (sets, tenants) = PausedScope.split(scopes)
        guard !sets.isEmpty || !tenants.isEmpty else { return }
        var conditions: [String] = []
        if !sets.isEmpty { conditions.append("config_set IN (\(sets.map { _ in "?" }.joined(separator: ",")))") }
        if !tenants.isEmpty { conditions.append("tenant IN (\(tenants.map { _ in "?" }.joined(separator: ",")))") }
        sql += " AND content_id NOT IN (SELECT id FROM contents WHERE \(conditions.joined(separator: " OR ")))"
        arguments += StatementArguments(sets + tenants)
    }

    public func events(ofMessage id: MessageID, limit: Int) async throws(KilnError) -> [DeliveryEvent] {
        try await wrapAsync("read a message's events") {
            try await pool.read { db in
                try Row.fetchAll(db, sql: """
                    SELECT id, time, kind, message_id, recipient, provider, source_ip, code, status, text, detail, class, reason, attempt, host
                    FROM events WHERE message_id = ? ORDER BY id LIMIT ?
                    """, arguments: [id.rawValue, limit]).compactMap { row in
                    DeliveryEvent.Kind(rawValue: row[2]).map { Self.event($0, row) }
                }
            }
        }
    }

    /// Events after `afterID` (exclusive), oldest first.
    public func events(after afterID: Int64, limit: Int) async throws(KilnError) -> [(id: Int64, event: DeliveryEvent)] {
        try await wrapAsync("read events") {
            try await pool.read { db in
                try Row.fetchAll(db, sql: """
                    SELECT id, time, kind, message_id, recipient, provider, source_ip, code, status, text, detail, class, reason, attempt, host
                    FROM events WHERE id > ? ORDER BY id LIMIT ?
                    """, arguments: [afterID, limit]).compactMap { row in
                    guard let kind = DeliveryEvent.Kind(rawValue: row[2]) else { return nil }
                    return (row[0], Self.event(kind, row))
                }
            }
        }
    }

    // MARK: Control

    /// Pauses or resumes sending, for the whole store (`scope` nil) or one configuration
    /// set. Persisted: it holds across restarts and for every process on the store.
    public func setPaused(_ paused: Bool, scope: String?) async throws(KilnError) {
        let key = "paused:" + (scope ?? "*")
        try await wrapAsync("set pause") {
            try await pool.write { db in
                if paused {
                    try db.execute(sql: "INSERT OR REPLACE INTO control (key, value) VALUES (?, '1')", arguments: [key])
                } else {
                    try db.execute(sql: "DELETE FROM control WHERE key = ?", arguments: [key])
                }
            }
        }
    }

    /// The paused scopes: `*` for the whole store, else configuration set names.
    public func pausedScopes() async throws(KilnError) -> Set<String> {
        try await wrapAsync("read pause") {
            try await pool.read { db in
                Set(try String.fetchAll(db, sql: "SELECT substr(key, 8) FROM control WHERE key LIKE 'paused:%'"))
            }
        }
    }

    // MARK: Warm-up state

    /// Saves the warm-up state of every (IP, provider) pair and the pools' active IPs.
    public func saveShaping(_ shaping: SavedShaping) async throws(KilnError) {
        try await wrapAsync("save warm-up state") {
            let data = try JSONEncoder().encode(shaping)
            try await pool.write { db in
                try db.execute(sql: "INSERT OR REPLACE INTO control (key, value) VALUES ('shaping', ?)", arguments: [String(decoding: data, as: UTF8.self)])
            }
        }
    }

    /// The warm-up state saved last, if any.
    public func loadShaping() async throws(KilnError) -> SavedShaping? {
        try await wrapAsync("load warm-up state") {
            guard let text = try await pool.read({ db in try String.fetchOne(db, sql: "SELECT value FROM control WHERE key = 'shaping'") }) else { return nil }
            return try JSONDecoder().decode(SavedShaping.self, from: Data(text.utf8))
        }
    }
}

/// The warm-up state kept across runs.
public struct SavedShaping: Codable, Sendable {
    public var pairs: [PairSnapshot]
    public var activePools: [String: [String]]
    /// The IPs whose state this saves (a node's own); nil: every IP. A store shared by
    /// nodes replaces only these IPs' state and active flags.
    public var ownedIPs: [String]?
    /// The learned pace and ceiling per provider (absent in state saved before they existed).
    public var paces: [ProviderPace]?
    public init(pairs: [PairSnapshot], activePools: [String: [String]], ownedIPs: [String]? = nil, paces: [ProviderPace]? = nil) {
        self.pairs = pairs
        self.activePools = activePools
        self.ownedIPs = ownedIPs
        self.paces = paces
    }
}
