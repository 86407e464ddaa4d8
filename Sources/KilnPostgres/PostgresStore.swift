import Foundation
import KilnCore
import KilnStore
import Logging
import NIOCore
import PostgresNIO
import Synchronization

/// The store shared by several Kiln nodes, on PostgreSQL: the same protocol and semantics
/// as `SQLiteStore`. Leasing takes due messages with `SELECT … FOR UPDATE SKIP LOCKED`, so
/// that nodes never take the same message and never wait for each other; each lease has an
/// owner (a node's run) and an expiry that the owner renews with its heartbeat. Batches
/// (a lease, a batch of outcomes with their events) are a few statements each, whatever
/// their size: arrays are bound whole and `UNNEST`ed.
public final class PostgresStore: MessageStore {
    public let settings: PostgresSettings
    public var location: String { settings.location }
    let client: PostgresClient
    let logger: Logger
    private let runner: Task<Void, Never>
    /// The migration run (once it succeeded, every call returns it; a failed one is tried
    /// again on the next call).
    private let migration = Mutex<Task<Int, any Error>?>(nil)
    private let roundTripCount = Atomic<Int>(0)

    /// Statements sent to the server so far (each one round trip; a transaction adds its
    /// BEGIN and COMMIT): how batched the store is.
    public var roundTrips: Int { roundTripCount.load(ordering: .relaxed) }

    /// Connects (lazily: the first call waits for the connection and the migrations) to
    /// the database of `settings`.
    public init(settings: PostgresSettings, logger: Logger = Logger(label: "kiln.postgres", factory: { _ in SwiftLogNoOpLogHandler() })) {
        self.settings = settings
        self.logger = logger
        let client = PostgresClient(configuration: settings.clientConfiguration(), backgroundLogger: logger)
        self.client = client
        runner = Task { await client.run() }
    }

    deinit {
        runner.cancel()
    }

    /// Runs the migrations not yet applied (they also run on first use); returns how many ran.
    /// A server that cannot be reached, or refuses the login, fails here at once (the
    /// pool alone would keep retrying).
    @discardableResult
    public func migrate() async throws(KilnError) -> Int {
        let task = migration.withLock { current in
            if let current { return current }
            let task = Task { [client, settings, logger] in
                let probe = try await PostgresConnection.connect(configuration: try settings.connectionConfiguration(), id: 0, logger: logger)
                try await probe.close()
                return try await PostgresSchema.migrate(client, logger: logger)
            }
            current = task
            return task
        }
        do {
            return try await task.value
        } catch {
            migration.withLock { if $0 == task { $0 = nil } }
            throw KilnError(.storeFailure, "store: cannot reach or migrate the database: \(Self.describe(error))", location: location,
                            isTemporary: Self.isTemporary(error))
        }
    }

    /// Runs `body` once the schema is ready; any error becomes a store failure naming `what`.
    func run<T: Sendable>(_ what: String, _ body: () async throws -> T) async throws(KilnError) -> T {
        try await migrate()
        do {
            return try await body()
        } catch {
            throw KilnError(.storeFailure, "store: \(what) failed: \(Self.describe(error))", location: location, isTemporary: Self.isTemporary(error))
        }
    }

    /// The server could not be reached or is short of a resource (SQLSTATE classes 08
    /// connection exception and 53 insufficient resources, e.g. 53100 disk full; 57P01–
    /// 57P03, shut down or starting): the same call may succeed later. An error without
    /// a server reply (a connection lost, refused or cut) is temporary too.
    static func isTemporary(_ error: any Error) -> Bool {
        if let error = error as? KilnError { return error.isTemporary }
        guard let error = error as? PSQLError else { return false }
        if let state = error.serverInfo?[.sqlState] {
            return state.hasPrefix("08") || state.hasPrefix("53") || ["57P01", "57P02", "57P03"].contains(state)
        }
        return [.connectionError, .serverClosedConnection, .clientClosedConnection, .uncleanShutdown].contains(error.code)
    }

    /// A database error as the server said it (PSQLError's description hides it).
    static func describe(_ error: any Error) -> String {
        if let error = error as? PSQLError {
            if let message = error.serverInfo?[.message] { return message }
            return "\(error.code)"
        }
        return "\(error)"
    }

    /// One statement outside a transaction.
    func query(_ query: PostgresQuery, logger: Logger) async throws -> PostgresRowSequence {
        roundTripCount.add(1, ordering: .relaxed)
        return try await client.query(query, logger: logger)
    }

    /// `body` in a transaction, its statements counted. A transaction the server chose as
    /// a deadlock's victim or failed for serialization (SQLSTATE 40P01, 40001) rolled back
    /// whole: it is run again, up to 5 times, as PostgreSQL's documentation asks of clients
    /// (two nodes' heartbeats and records on the same rows deadlocked in a cluster test).
    func transaction<T: Sendable>(_ what: String, _ body: @escaping @Sendable (Transaction) async throws -> T) async throws(KilnError) -> T {
        try await run(what) {
            var attempt = 1
            while true {
                roundTripCount.add(2, ordering: .relaxed)
                do {
                    return try await client.withTransaction(logger: logger) { [self] connection in
                        try await body(Transaction(connection: connection, logger: logger, count: { self.roundTripCount.add(1, ordering: .relaxed) }))
                    }
                } catch let error as PostgresTransactionError where attempt < 5 && Self.isRetryable(error) {
                    attempt += 1
                    try await Task.sleep(for: .milliseconds(Int64.random(in: 5...50) * Int64(attempt)))
                }
            }
        }
    }

    /// Whether the transaction failed as a deadlock's victim or for serialization.
    static func isRetryable(_ error: PostgresTransactionError) -> Bool {
        let state = (error.closureError as? PSQLError)?.serverInfo?[.sqlState] ?? (error.commitError as? PSQLError)?.serverInfo?[.sqlState]
        return state == "40P01" || state == "40001"
    }

    static func bytes(_ buffer: ByteBuffer?) -> [UInt8]? { buffer.map { Array($0.readableBytesView) } }

    // MARK: Queue

    public func enqueue(_ submissions: [Submission], now: Timestamp) async throws(KilnError) -> [[MessageID]] {
        guard !submissions.isEmpty else { return [] }
        return try await transaction("enqueue") { [logger] connection in
            var result: [[MessageID]] = []
            for submission in submissions {
                let c = submission.content
                let recipients = submission.recipients
                let states = recipients.map { $0.suppressed == nil ? MessageState.queued.rawValue : MessageState.suppressed.rawValue }
                let variables = recipients.map { ByteBuffer(bytes: $0.variables ?? []) }
                let hasVariables = recipients.map { $0.variables != nil }
                let metadata = recipients.map { ByteBuffer(bytes: $0.metadata ?? []) }
                let hasMetadata = recipients.map { $0.metadata != nil }
                let rows = try await connection.query("""
                    WITH c AS (
                      INSERT INTO contents (data, envelope_domain, config_set, campaign, from_domain, is_template, tenant)
                      VALUES (\(ByteBuffer(bytes: c.data)), \(c.envelopeDomain), \(c.configurationSet), \(c.campaign), \(c.fromDomain), \(c.isTemplate),
                              \(c.tenant))
                      RETURNING id)
                    , m AS (
                    INSERT INTO messages (content_id, config_set, tenant, state, provider, recipient, variables, metadata, created_at, next_attempt_at,
                                          updated_at, priority)
                    SELECT c.id, \(c.configurationSet), \(c.tenant), r.state, r.provider, r.recipient, CASE WHEN r.has THEN r.variables END,
                           CASE WHEN r.has_metadata THEN r.metadata END, \(now.nanoseconds), \(now.nanoseconds), \(now.nanoseconds), \(submission.priority)
                    FROM c, UNNEST(\(states)::bigint[], \(recipients.map(\.provider.id))::text[], \(recipients.map(\.address))::text[],
                                   \(variables)::bytea[], \(hasVariables)::boolean[], \(metadata)::bytea[], \(hasMetadata)::boolean[])
                      WITH ORDINALITY AS r(state, provider, recipient, variables, has, metadata, has_metadata, n)
                    ORDER BY r.n
                    RETURNING id, state, recipient, provider),
                    accepted AS (
                      INSERT INTO events (time, kind, message_id, recipient, provider)
                      SELECT \(now.nanoseconds), \(DeliveryEvent.Kind.accepted.rawValue), id, recipient, provider FROM m WHERE state = 0 ORDER BY id)
                    SELECT id FROM m
                    """, logger: logger)
                var ids: [MessageID] = []
                for try await id in rows.decode(Int64.self) { ids.append(MessageID(id)) }
                result.append(ids.sorted())
            }
            return result
        }
    }

    public func lease(limit: Int, owner: String, now: Timestamp, leaseUntil: Timestamp, excluding: Set<MailboxProvider>, pausedSets: Set<String>)
        async throws(KilnError) -> [LeasedMessage] {
        guard limit > 0 else { return [] }
        let excluded = excluding.map(\.id)
        let (paused, pausedTenants) = PausedScope.split(pausedSets)
        return try await run("lease") {
            // One statement: due messages of a higher priority (transactional mail) first,
            // through the small partial index `messages_ready_priority`, then bulk (priority
            // 0) for the rest of the limit, oldest due first.
            let rows = try await query("""
                WITH urgent AS (
                  SELECT id FROM messages
                  WHERE state IN (0, 2) AND priority > 0 AND next_attempt_at <= \(now.nanoseconds)
                    AND provider <> ALL(\(excluded)::text[]) AND config_set <> ALL(\(paused)::text[])
                    AND tenant <> ALL(\(pausedTenants)::text[])
                  ORDER BY priority DESC, next_attempt_at, id LIMIT \(limit)
                  FOR UPDATE SKIP LOCKED),
                bulk AS (
                  SELECT id FROM messages
                  WHERE state IN (0, 2) AND priority = 0 AND next_attempt_at <= \(now.nanoseconds)
                    AND provider <> ALL(\(excluded)::text[]) AND config_set <> ALL(\(paused)::text[])
                    AND tenant <> ALL(\(pausedTenants)::text[])
                  ORDER BY next_attempt_at LIMIT (\(limit) - (SELECT count(*) FROM urgent))
                  FOR UPDATE SKIP LOCKED)
                UPDATE messages m SET state = \(MessageState.leased.rawValue), lease_expires_at = \(leaseUntil.nanoseconds), lease_owner = \(owner),
                  updated_at = \(now.nanoseconds), lease_epoch = m.lease_epoch + 1
                FROM (SELECT id FROM urgent UNION ALL SELECT id FROM bulk) due WHERE m.id = due.id
                RETURNING m.id, m.content_id, m.provider, m.recipient, m.variables, m.created_at, m.attempts, m.next_attempt_at, m.priority, m.lease_epoch
                """, logger: logger)
            var leased: [(LeasedMessage, Int64)] = []
            for try await (id, contentID, provider, recipient, variables, createdAt, attempts, due, priority, epoch) in rows.decode(
                (Int64, Int64, String, String, ByteBuffer?, Int64, Int, Int64, Int, Int64).self) {
                leased.append((LeasedMessage(id: MessageID(id), epoch: epoch, contentID: contentID, provider: MailboxProvider(provider), recipient: recipient,
                                             variables: Self.bytes(variables), createdAt: Timestamp(nanoseconds: createdAt), attempts: attempts,
                                             priority: priority), due))
            }
            return leased.sorted { (-$0.0.priority, $0.1, $0.0.id.rawValue) < (-$1.0.priority, $1.1, $1.0.id.rawValue) }.map(\.0)
        }
    }

    public func contents(ids: [Int64]) async throws(KilnError) -> [Int64: StoredContent] {
        guard !ids.isEmpty else { return [:] }
        return try await run("read contents") {
            var result: [Int64: StoredContent] = [:]
            let rows = try await query("""
                SELECT id, data, envelope_domain, config_set, campaign, from_domain, is_template, tenant FROM contents WHERE id = ANY(\(ids)::bigint[])
                """, logger: logger)
            for try await (id, data, envelope, set, campaign, from, isTemplate, tenant) in rows.decode(
                (Int64, ByteBuffer, String, String, String?, String?, Bool, String).self) {
                result[id] = StoredContent(data: Array(data.readableBytesView), envelopeDomain: envelope, configurationSet: set, campaign: campaign,
                                           fromDomain: from, isTemplate: isTemplate, tenant: tenant)
            }
            return result
        }
    }

    /// Records a batch of outcomes with their events, the hard bounces' suppressions and
    /// the reputation counters in one statement: one round trip, atomic. An outcome counts
    /// only under its lease's epoch while the message is leased (`MessageStore.record`).
    public func record(_ outcomes: [Outcome], events: [DeliveryEvent], now: Timestamp) async throws(KilnError) {
        guard !outcomes.isEmpty || !events.isEmpty else { return }
        try await run("record outcomes") { try await query(Self.recording(outcomes, events: events, now: now), logger: logger) }
    }

    /// The statement that records outcomes and events: data-modifying CTEs over the arrays
    /// of the batch. -1 and '' stand for "no value" in the arrays (arrays bound from Swift
    /// carry no NULLs); no real value is either (lease epochs start at 1).
    ///
    /// Fencing, as in `SQLiteStore.record`: `updated` takes only the outcomes whose message
    /// is leased under their epoch (-1: not fenced); `stale` is the fenced rest. Only
    /// `updated` rows suppress and count for reputation (what each adds is decided in
    /// Swift, `Outcome+Recording`, and bound with it); the batch's events of a stale
    /// outcome's message are left out and one `staleOutcome` event per stale outcome
    /// follows the rest.
    static func recording(_ outcomes: [Outcome], events: [DeliveryEvent], now: Timestamp) -> PostgresQuery {
        """
        WITH o AS (
          SELECT * FROM UNNEST(\(outcomes.map(\.id.rawValue))::bigint[], \(outcomes.map(\.state.rawValue))::bigint[],
                               \(outcomes.map { $0.nextAttemptAt?.nanoseconds ?? -1 })::bigint[], \(outcomes.map { $0.countsAsAttempt ? 1 : 0 })::bigint[],
                               \(outcomes.map { $0.via?.description ?? "" })::text[], \(outcomes.map { $0.reply?.code ?? -1 })::bigint[],
                               \(outcomes.map { $0.reply?.enhancedStatus ?? "" })::text[], \(outcomes.map { $0.reply?.text ?? "" })::text[],
                               \(outcomes.map { $0.suppression(now: now)?.address ?? "" })::text[],
                               \(outcomes.map { $0.suppression(now: now)?.source ?? "" })::text[], \(outcomes.map { $0.host ?? "" })::text[],
                               \(outcomes.map { $0.epoch ?? -1 })::bigint[], \(outcomes.map { $0.epoch == nil ? "" : $0.staleDescription })::text[],
                               \(outcomes.map(\.countsAsSend))::boolean[], \(outcomes.map(\.countsAsHardBounce))::boolean[])
            WITH ORDINALITY AS o(id, state, next, counts, via, code, status, text, suppress, source, host, epoch, stale, sent, hard, n)),
        updated AS (
          UPDATE messages m SET state = o.state, next_attempt_at = COALESCE(NULLIF(o.next, -1), m.next_attempt_at),
            lease_expires_at = NULL, lease_owner = NULL, attempts = m.attempts + o.counts,
            source_ip = COALESCE(NULLIF(o.via, ''), m.source_ip),
            last_code = CASE WHEN o.code = -1 THEN m.last_code ELSE o.code END,
            last_status = CASE WHEN o.code = -1 THEN m.last_status ELSE NULLIF(o.status, '') END,
            last_text = CASE WHEN o.code = -1 THEN m.last_text ELSE o.text END,
            last_host = COALESCE(NULLIF(o.host, ''), m.last_host),
            updated_at = \(now.nanoseconds)
          FROM o WHERE m.id = o.id AND m.state = \(MessageState.leased.rawValue) AND (o.epoch = -1 OR m.lease_epoch = o.epoch)
          RETURNING m.id, m.config_set, m.tenant, o.suppress, o.source, o.sent, o.hard),
        stale AS (
          SELECT o.id, o.via, o.code, o.status, o.text, o.host, o.n, m.recipient, m.provider,
                 o.stale || COALESCE('; the message is at lease epoch ' || m.lease_epoch || ', ' || (\(Self.stateNames)::text[])[m.state + 1],
                                     '; the message is no longer stored') AS detail
          FROM o LEFT JOIN messages m ON m.id = o.id
          WHERE o.epoch <> -1 AND NOT EXISTS (SELECT 1 FROM updated u WHERE u.id = o.id)),
        suppressed AS (
          INSERT INTO suppression_list (scope, address, reason, source, created_at)
          SELECT '', u.suppress, \(SuppressionReason.bounce.rawValue), u.source, \(now.nanoseconds) FROM updated u WHERE u.suppress <> ''
          ON CONFLICT (scope, address) DO NOTHING),
        counted AS (
          INSERT INTO reputation_hours (scope, hour, sent, bounces)
          SELECT scope, \(hour(of: now)),
                 count(*) FILTER (WHERE sent), count(*) FILTER (WHERE hard)
          FROM (SELECT config_set AS scope, sent, hard FROM updated
                UNION ALL SELECT \(PausedScope.tenantPrefix) || tenant, sent, hard FROM updated) AS u
          GROUP BY scope
          ON CONFLICT (scope, hour) DO UPDATE SET sent = reputation_hours.sent + EXCLUDED.sent, bounces = reputation_hours.bounces + EXCLUDED.bounces)
        INSERT INTO events (time, kind, message_id, recipient, provider, source_ip, code, status, text, detail, host, class, reason, attempt)
        SELECT e.time, e.kind, NULLIF(e.message, -1), NULLIF(e.recipient, ''), NULLIF(e.provider, ''), NULLIF(e.via, ''),
               NULLIF(e.code, -1), NULLIF(e.status, ''), CASE WHEN e.code = -1 THEN NULL ELSE e.text END, NULLIF(e.detail, ''),
               NULLIF(e.host, ''), NULLIF(e.class, ''), NULLIF(e.reason, ''), NULLIF(e.attempt, -1)
        FROM (
          SELECT e.*, 0 AS part FROM UNNEST(\(events.map(\.time.nanoseconds))::bigint[], \(events.map(\.kind.rawValue))::text[],
                    \(events.map { $0.messageID?.rawValue ?? -1 })::bigint[], \(events.map { $0.recipient ?? "" })::text[],
                    \(events.map { $0.provider?.id ?? "" })::text[], \(events.map { $0.via?.description ?? "" })::text[],
                    \(events.map { $0.reply?.code ?? -1 })::bigint[], \(events.map { $0.reply?.enhancedStatus ?? "" })::text[],
                    \(events.map { $0.reply?.text ?? "" })::text[], \(events.map { $0.detail ?? "" })::text[],
                    \(events.map { $0.host ?? "" })::text[],
                    \(events.map { $0.replyClass?.rawValue ?? "" })::text[], \(events.map { $0.reason?.rawValue ?? "" })::text[],
                    \(events.map { $0.attempt ?? -1 })::bigint[]) WITH ORDINALITY
            AS e(time, kind, message, recipient, provider, via, code, status, text, detail, host, class, reason, attempt, n)
          WHERE NOT EXISTS (SELECT 1 FROM stale s WHERE s.id = e.message)
          UNION ALL
          SELECT \(now.nanoseconds), \(DeliveryEvent.Kind.staleOutcome.rawValue), s.id, COALESCE(s.recipient, ''), COALESCE(s.provider, ''), s.via,
                 s.code, s.status, s.text, s.detail, s.host, '', '', -1, s.n, 1
          FROM stale s) e
        ORDER BY e.part, e.n
        """
    }

    /// `MessageState` names by raw value (0 first), for SQL that names a state.
    static let stateNames = MessageState.allCases.sorted { $0.rawValue < $1.rawValue }.map(\.description)

    /// Puts leased messages back (those still leased under the given epoch).
    public func release(_ leases: [MessageLease]) async throws(KilnError) {
        guard !leases.isEmpty else { return }
        try await run("release leases") {
            try await query("""
                UPDATE messages m SET state = \(MessageState.queued.rawValue), lease_expires_at = NULL, lease_owner = NULL
                FROM UNNEST(\(leases.map(\.id.rawValue))::bigint[], \(leases.map(\.epoch))::bigint[]) AS l(id, epoch)
                WHERE m.id = l.id AND m.state = \(MessageState.leased.rawValue) AND m.lease_epoch = l.epoch
                """, logger: logger)
        }
    }

    /// Takes the node's advisory lock (one run per node name at a time) and returns to the
    /// queue the expired leases of every node and every lease of this node's earlier runs.
    public func beginDelivery(node: String?, now: Timestamp) async throws(KilnError) -> DeliveryClaim {
        try await migrate()
        var holder: NodeLock?
        if let node {
            holder = try await NodeLock.take(node: node, settings: settings, logger: logger)
        }
        let recovered = try await run("recover leases") {
            var count = 0
            for try await n in try await query(Self.takingBack(expiredBefore: now, runsOf: node), logger: logger).decode(Int.self) { count = n }
            return count
        }
        return DeliveryClaim(recovered: recovered, holder: holder)
    }

    /// Returns to the queue the leases that expired before `now`, and every lease of
    /// `node`'s runs; the statement answers how many.
    static func takingBack(expiredBefore now: Timestamp, runsOf node: String?) -> PostgresQuery {
        """
        WITH back AS (
          UPDATE messages SET state = \(MessageState.queued.rawValue), lease_expires_at = NULL, lease_owner = NULL
          WHERE state = \(MessageState.leased.rawValue)
            AND (lease_expires_at < \(now.nanoseconds) OR (\(node != nil) AND lease_owner LIKE \(likePrefix(node ?? "")) || '%'))
          RETURNING 1)
        SELECT count(*) FROM back
        """
    }

    /// `node/` with LIKE's wildcards escaped: the owners of that node's runs.
    static func likePrefix(_ node: String) -> String {
        node.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%").replacingOccurrences(of: "_", with: "\\_") + "/"
    }

    public func heartbeat(_ heartbeat: NodeHeartbeat, now: Timestamp, leaseUntil: Timestamp) async throws(KilnError) -> HeartbeatResult {
        try await transaction("heartbeat") { [logger] connection in
            if let node = heartbeat.node {
                try await connection.query("""
                    INSERT INTO nodes (name, owner, ips, heartbeat_at) VALUES (\(node), \(heartbeat.owner), \(heartbeat.ips.joined(separator: " ")), \(now.nanoseconds))
                    ON CONFLICT (name) DO UPDATE SET owner = EXCLUDED.owner, ips = EXCLUDED.ips, heartbeat_at = EXCLUDED.heartbeat_at
                    """, logger: logger)
            }
            try await connection.query("""
                UPDATE messages SET lease_expires_at = \(leaseUntil.nanoseconds)
                WHERE state = \(MessageState.leased.rawValue) AND lease_owner = \(heartbeat.owner)
                """, logger: logger)
            var count = 0
            for try await n in try await connection.query(Self.takingBack(expiredBefore: now, runsOf: nil)).decode(Int.self) { count = n }
            var live = 1
            let since = now.nanoseconds - (leaseUntil.nanoseconds - now.nanoseconds)
            for try await n in try await connection.query("SELECT count(*) FROM nodes WHERE heartbeat_at > \(since)", logger: logger).decode(Int.self) {
                live = n + (heartbeat.node == nil ? 1 : 0)
            }
            // The leases the run believes it holds that are no longer its own under their
            // epoch: they expired and were taken back while it stalled.
            var lost: [MessageLease] = []
            if !heartbeat.holding.isEmpty {
                let holding = heartbeat.holding
                for try await (id, epoch) in try await connection.query("""
                    SELECT h.id, h.epoch FROM UNNEST(\(holding.map(\.id.rawValue))::bigint[], \(holding.map(\.epoch))::bigint[]) WITH ORDINALITY AS h(id, epoch, n)
                    WHERE NOT EXISTS (SELECT 1 FROM messages m WHERE m.id = h.id AND m.state = \(MessageState.leased.rawValue)
                                        AND m.lease_epoch = h.epoch AND m.lease_owner = \(heartbeat.owner))
                    ORDER BY h.n
                    """, logger: logger).decode((Int64, Int64).self) {
                    lost.append(MessageLease(id: MessageID(id), epoch: epoch))
                }
            }
            return HeartbeatResult(recovered: count, liveNodes: live, lost: lost)
        }
    }

    public func nodes() async throws(KilnError) -> [NodeStatus] {
        try await run("read nodes") {
            let rows = try await query("""
                SELECT n.name, n.owner, n.ips, n.heartbeat_at,
                       (SELECT count(*) FROM messages m WHERE m.state = \(MessageState.leased.rawValue) AND m.lease_owner = n.owner)
                FROM nodes n ORDER BY n.name
                """, logger: logger)
            var nodes: [NodeStatus] = []
            for try await (name, owner, ips, at, leased) in rows.decode((String, String, String, Int64, Int).self) {
                nodes.append(NodeStatus(node: name, owner: owner, ips: ips.split(separator: " ").map(String.init),
                                        heartbeatAt: Timestamp(nanoseconds: at), leased: leased))
            }
            return nodes
        }
    }

    public func takeQuota(_ quota: String, window: String, node: String, used: Int?, want: Int, limit: Int,
                          now: Timestamp, until: Timestamp) async throws(KilnError) -> QuotaSlice {
        try await transaction("take a quota slice") { transaction in
            // One grant at a time per quota and window: two nodes granting at once would
            // each count without the other's new slice.
            _ = try await transaction.query("SELECT pg_advisory_xact_lock(hashtext(\(quota + "/" + window)))")
            var mine: QuotaSlice?
            var others: [QuotaSlice] = []
            for slice in try await Self.quotaSlices(transaction.query(Self.quotaSlicesQuery(quota, window: window)), window: window) {
                if slice.node == node { mine = slice } else { others.append(slice) }
            }
            let slice = QuotaSlice.grant(node: node, window: window, mine: mine, others: others, used: used, want: want, limit: limit,
                                         now: now, until: until)
            _ = try await transaction.query("""
                INSERT INTO quota_slices (quota, "window", node, granted, used, expires_at)
                VALUES (\(quota), \(window), \(node), \(Int64(slice.granted)), \(Int64(slice.used)), \(slice.expiresAt.nanoseconds))
                ON CONFLICT (quota, "window", node) DO UPDATE SET granted = excluded.granted, used = excluded.used, expires_at = excluded.expires_at
                """)
            _ = try await transaction.query("DELETE FROM quota_slices WHERE quota = \(quota) AND \"window\" < \(window)")
            return slice
        }
    }

    public func quotaSlices(_ quota: String, window: String) async throws(KilnError) -> [QuotaSlice] {
        try await run("read quota slices") {
            try await Self.quotaSlices(query(Self.quotaSlicesQuery(quota, window: window), logger: logger), window: window)
        }
    }

    static func quotaSlicesQuery(_ quota: String, window: String) -> PostgresQuery {
        "SELECT node, granted, used, expires_at FROM quota_slices WHERE quota = \(quota) AND \"window\" = \(window) ORDER BY node"
    }

    static func quotaSlices(_ rows: PostgresRowSequence, window: String) async throws -> [QuotaSlice] {
        var slices: [QuotaSlice] = []
        for try await (node, granted, used, expires) in rows.decode((String, Int64, Int64, Int64).self) {
            slices.append(QuotaSlice(node: node, window: window, granted: Int(granted), used: Int(used), expiresAt: Timestamp(nanoseconds: expires)))
        }
        return slices
    }

    public func nextDue(pausedSets: Set<String>, excluding: Set<MailboxProvider>) async throws(KilnError) -> Timestamp? {
        let (sets, tenants) = PausedScope.split(pausedSets)
        return try await run("read next due") {
            let rows = try await query("""
                SELECT MIN(next_attempt_at) FROM messages
                WHERE state IN (0, 2) AND provider <> ALL(\(excluding.map(\.id))::text[]) AND config_set <> ALL(\(sets)::text[])
                  AND tenant <> ALL(\(tenants)::text[])
                """, logger: logger)
            var due: Int64?
            for try await value in rows.decode(Int64?.self) { due = value }
            return due.map(Timestamp.init(nanoseconds:))
        }
    }

    // MARK: Reading

    public func counts() async throws(KilnError) -> [StateCount] {
        try await run("count") {
            let rows = try await query("SELECT state, provider, count(*) FROM messages GROUP BY state, provider ORDER BY state, provider", logger: logger)
            var counts: [StateCount] = []
            for try await (state, provider, count) in rows.decode((Int, String, Int).self) {
                guard let state = MessageState(rawValue: state) else { continue }
                counts.append(StateCount(state: state, provider: MailboxProvider(provider), count: count))
            }
            return counts
        }
    }

    public func messages(ids: [MessageID]) async throws(KilnError) -> [MessageRecord] {
        guard !ids.isEmpty else { return [] }
        return try await run("read messages") {
            let rows = try await query("""
                SELECT id, recipient, provider, state, attempts, source_ip, last_code, last_status, last_text, next_attempt_at, last_host, tenant, metadata
                FROM messages WHERE id = ANY(\(ids.map(\.rawValue))::bigint[])
                """, logger: logger)
            var byID: [MessageID: MessageRecord] = [:]
            for try await (id, recipient, provider, state, attempts, via, code, status, text, due, host, tenant, metadata) in rows.decode(
                (Int64, String, String, Int, Int, String?, Int?, String?, String?, Int64, String?, String, ByteBuffer?).self) {
                let record = MessageRecord(
                    id: MessageID(id), recipient: recipient, provider: MailboxProvider(provider), state: MessageState(rawValue: state) ?? .queued,
                    attempts: attempts, via: via.map(SendingPath.init), lastReply: code.map { SMTPReply(code: $0, enhancedStatus: status, text: text ?? "") },
                    nextAttemptAt: Timestamp(nanoseconds: due), host: host, tenant: tenant, metadata: Self.bytes(metadata))
                byID[record.id] = record
            }
            return ids.compactMap { byID[$0] }
        }
    }

    public func events(ofMessage id: MessageID, limit: Int) async throws(KilnError) -> [DeliveryEvent] {
        try await run("read a message's events") {
            let rows = try await query("""
                SELECT \(unescaped: Self.eventColumns) FROM events e WHERE e.message_id = \(id.rawValue) ORDER BY e.id LIMIT \(limit)
                """, logger: logger)
            var events: [DeliveryEvent] = []
            for try await row in rows {
                if let event = try Self.event(row.makeRandomAccess(), from: 0) { events.append(event) }
            }
            return events
        }
    }

    public func events(after afterID: Int64, limit: Int) async throws(KilnError) -> [(id: Int64, event: DeliveryEvent)] {
        try await run("read events") {
            let rows = try await query("""
                SELECT e.id, \(unescaped: Self.eventColumns) FROM events e WHERE e.id > \(afterID) ORDER BY e.id LIMIT \(limit)
                """, logger: logger)
            var events: [(id: Int64, event: DeliveryEvent)] = []
            for try await row in rows {
                let r = row.makeRandomAccess()
                guard let event = try Self.event(r, from: 1) else { continue }
                events.append((try r[0].decode(Int64.self), event))
            }
            return events
        }
    }

    public func receivingHosts(deliveries: Int) async throws(KilnError) -> [HostCount] {
        try await run("read receiving hosts") {
            // The newest delivery events, by the events' primary key (no index on kind).
            let rows = try await query("""
                SELECT provider, host, count(*) AS n FROM (
                  SELECT provider, host FROM events WHERE kind = \(DeliveryEvent.Kind.delivery.rawValue) AND host IS NOT NULL ORDER BY id DESC LIMIT \(deliveries)) recent
                GROUP BY provider, host ORDER BY provider, n DESC, host
                """, logger: logger)
            var hosts: [HostCount] = []
            for try await (provider, host, n) in rows.decode((String?, String, Int).self) {
                hosts.append(HostCount(provider: MailboxProvider(provider ?? "other"), host: host, deliveries: n))
            }
            return hosts
        }
    }

    public func append(events: [DeliveryEvent]) async throws(KilnError) {
        guard let first = events.first else { return }
        try await run("append events") { try await query(Self.recording([], events: events, now: first.time), logger: logger) }
    }

    // MARK: Control

    public func setPaused(_ paused: Bool, scope: String?) async throws(KilnError) {
        let key = "paused:" + (scope ?? "*")
        try await run("set pause") {
            if paused {
                try await query("INSERT INTO control (key, value) VALUES (\(key), '1') ON CONFLICT (key) DO UPDATE SET value = '1'", logger: logger)
            } else {
                try await query("DELETE FROM control WHERE key = \(key)", logger: logger)
            }
        }
    }

    public func pausedScopes() async throws(KilnError) -> Set<String> {
        try await run("read pause") {
            var scopes = Set<String>()
            for try await scope in try await query("SELECT substr(key, 8) FROM control WHERE key LIKE 'paused:%'", logger: logger).decode(String.self) {
                scopes.insert(scope)
            }
            return scopes
        }
    }

    /// Saves the pairs of the IPs it names (`ownedIPs`, else all it holds) and which of
    /// them are active, leaving other nodes' IPs as they are; and the learned paces per
    /// provider (learned from every IP: the node that saves last has seen the latest).
    public func saveShaping(_ shaping: SavedShaping) async throws(KilnError) {
        let encoder = JSONEncoder()
        let pairs: [(ip: String, provider: String, json: String)]
        let paces: String?
        do {
            pairs = try shaping.pairs.map { ($0.ip, $0.provider.id, String(decoding: try encoder.encode($0), as: UTF8.self)) }
            paces = try shaping.paces.map { String(decoding: try encoder.encode($0), as: UTF8.self) }
        } catch {
            throw KilnError(.storeFailure, "store: cannot encode the warm-up state: \(error)", location: location)
        }
        let owned = shaping.ownedIPs ?? Array(Set(shaping.pairs.map(\.ip)).union(shaping.activePools.values.joined()))
        let active = shaping.activePools.flatMap { pool, ips in ips.map { (pool, $0) } }
        try await transaction("save warm-up state") { [logger] connection in
            try await connection.query("""
                INSERT INTO warmup_pairs (ip, provider, snapshot)
                SELECT * FROM UNNEST(\(pairs.map(\.ip))::text[], \(pairs.map(\.provider))::text[], \(pairs.map(\.json))::text[])
                ON CONFLICT (ip, provider) DO UPDATE SET snapshot = EXCLUDED.snapshot
                """, logger: logger)
            try await connection.query("DELETE FROM pool_active WHERE ip = ANY(\(owned)::text[])", logger: logger)
            try await connection.query("""
                INSERT INTO pool_active (pool, ip) SELECT * FROM UNNEST(\(active.map(\.0))::text[], \(active.map(\.1))::text[]) ON CONFLICT DO NOTHING
                """, logger: logger)
            if let paces {
                try await connection.query("INSERT INTO control (key, value) VALUES ('paces', \(paces)) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value")
            }
        }
    }

    public func loadShaping() async throws(KilnError) -> SavedShaping? {
        try await run("load warm-up state") {
            let decoder = JSONDecoder()
            var pairs: [PairSnapshot] = []
            for try await json in try await query("SELECT snapshot FROM warmup_pairs ORDER BY ip, provider", logger: logger).decode(String.self) {
                pairs.append(try decoder.decode(PairSnapshot.self, from: Data(json.utf8)))
            }
            var active: [String: [String]] = [:]
            for try await (pool, ip) in try await query("SELECT pool, ip FROM pool_active ORDER BY pool, ip", logger: logger).decode((String, String).self) {
                active[pool, default: []].append(ip)
            }
            var paces: [ProviderPace]?
            for try await json in try await query("SELECT value FROM control WHERE key = 'paces'", logger: logger).decode(String.self) {
                paces = try decoder.decode([ProviderPace].self, from: Data(json.utf8))
            }
            return pairs.isEmpty && active.isEmpty && paces == nil ? nil : SavedShaping(pairs: pairs, activePools: active, paces: paces)
        }
    }
}

/// A connection in a transaction; its statements are counted as round trips.
struct Transaction: Sendable {
    let connection: PostgresConnection
    let logger: Logger
    let count: @Sendable () -> Void

    @discardableResult
    func query(_ query: PostgresQuery, logger _: Logger? = nil) async throws -> PostgresRowSequence {
        count()
        return try await connection.query(query, logger: logger)
    }
}

/// A node's run holds a session-level advisory lock on a connection of its own, so that a
/// second process started as the same node fails instead of sending from the same IPs.
final class NodeLock: Sendable {
    let connection: PostgresConnection

    private init(connection: PostgresConnection) { self.connection = connection }

    static func take(node: String, settings: PostgresSettings, logger: Logger) async throws(KilnError) -> NodeLock {
        let connection: PostgresConnection
        do {
            connection = try await PostgresConnection.connect(configuration: try settings.connectionConfiguration(), id: 1, logger: logger)
        } catch {
            throw KilnError(.storeFailure, "store: cannot connect for the node lock: \(PostgresStore.describe(error))", location: settings.location)
        }
        var taken = false
        do {
            for try await ok in try await connection.query("SELECT pg_try_advisory_lock(hashtext(\("kiln-node:" + node))::bigint)", logger: logger).decode(Bool.self) {
                taken = ok
            }
        } catch {
            try? await connection.close()
            throw KilnError(.storeFailure, "store: cannot take the node lock: \(PostgresStore.describe(error))", location: settings.location)
        }
        guard taken else {
            try? await connection.close()
            throw KilnError(.storeFailure, "another process is already delivering as node '\(node)'", location: settings.location)
        }
        return NodeLock(connection: connection)
    }

    deinit {
        // Closing the session releases the advisory lock.
        // The connection must live until it is closed.
        let connection = connection
        let closed: EventLoopFuture<Void> = connection.close()
        closed.whenComplete { _ in withExtendedLifetime(connection) {} }
    }
}
