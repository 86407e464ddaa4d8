import Logging
import PostgresNIO

/// The PostgreSQL schema, in numbered migrations. Each runs once, in a transaction that
/// holds an advisory lock, so that nodes starting together migrate one at a time.
enum PostgresSchema {
    /// `pg_advisory_xact_lock` key of the migrations ("kiln" in ASCII).
    static let migrationLock: Int64 = 0x6B69_6C6E

    static let migrations: [(version: Int, name: String, sql: [String])] = [
        (1, "queue, contents, events, control, suppression, reputation, campaigns, nodes, warm-up state", [
            """
            CREATE TABLE contents (
              id BIGSERIAL PRIMARY KEY,
              data BYTEA NOT NULL,
              envelope_domain TEXT NOT NULL,
              config_set TEXT NOT NULL,
              campaign TEXT,
              from_domain TEXT,
              is_template BOOLEAN NOT NULL DEFAULT FALSE
            )
            """,
            // `config_set` is the content's, kept on each message so that leasing can
            // skip paused sets and the reputation counters can group without a join.
            """
            CREATE TABLE messages (
              id BIGSERIAL PRIMARY KEY,
              content_id BIGINT NOT NULL REFERENCES contents(id),
              config_set TEXT NOT NULL,
              state INTEGER NOT NULL,
              provider TEXT NOT NULL,
              recipient TEXT NOT NULL,
              variables BYTEA,
              created_at BIGINT NOT NULL,
              next_attempt_at BIGINT NOT NULL,
              lease_expires_at BIGINT,
              lease_owner TEXT,
              attempts INTEGER NOT NULL DEFAULT 0,
              source_ip TEXT,
              last_code INTEGER,
              last_status TEXT,
              last_text TEXT,
              updated_at BIGINT NOT NULL
            )
            """,
            // Leasing reads the due messages in due order; a queued message enters only this index
            // and the content one.
            "CREATE INDEX messages_ready ON messages (next_attempt_at) WHERE state IN (0, 2)",
            "CREATE INDEX messages_leased ON messages (lease_expires_at) WHERE state = 1",
            "CREATE INDEX messages_lease_owner ON messages (lease_owner) WHERE state = 1",
            "CREATE INDEX messages_content ON messages (content_id, state, provider)",
            """
            CREATE TABLE events (
              id BIGSERIAL PRIMARY KEY,
              time BIGINT NOT NULL,
              kind TEXT NOT NULL,
              message_id BIGINT,
              recipient TEXT,
              provider TEXT,
              source_ip TEXT,
              code INTEGER,
              status TEXT,
              text TEXT,
              detail TEXT
            )
            """,
            "CREATE INDEX events_message ON events (message_id)",
            "CREATE TABLE control (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
            """
            CREATE TABLE suppression_list (
              scope TEXT NOT NULL,
              address TEXT NOT NULL,
              reason TEXT NOT NULL,
              source TEXT NOT NULL,
              created_at BIGINT NOT NULL,
              PRIMARY KEY (scope, address)
            )
            """,
            "CREATE INDEX suppression_by_reason ON suppression_list (reason, scope, address)",
            "CREATE INDEX suppression_by_address ON suppression_list (address)",
            """
            CREATE TABLE reputation_hours (
              scope TEXT NOT NULL,
              hour BIGINT NOT NULL,
              sent BIGINT NOT NULL DEFAULT 0,
              bounces BIGINT NOT NULL DEFAULT 0,
              complaints BIGINT NOT NULL DEFAULT 0,
              PRIMARY KEY (scope, hour)
            )
            """,
            """
            CREATE TABLE campaigns (
              id TEXT PRIMARY KEY,
              content_id BIGINT NOT NULL REFERENCES contents(id),
              recipients_file TEXT NOT NULL,
              config_set TEXT NOT NULL,
              rows_read BIGINT NOT NULL DEFAULT 0,
              rejected_rows BIGINT NOT NULL DEFAULT 0,
              suppressed BIGINT NOT NULL DEFAULT 0,
              duplicates BIGINT NOT NULL DEFAULT 0,
              accepted BIGINT NOT NULL DEFAULT 0,
              ingest_complete BOOLEAN NOT NULL DEFAULT FALSE,
              created_at BIGINT NOT NULL
            )
            """,
            // One row per delivering node: its current run (owner), IPs and last heartbeat.
            """
            CREATE TABLE nodes (
              name TEXT PRIMARY KEY,
              owner TEXT NOT NULL,
              ips TEXT NOT NULL,
              heartbeat_at BIGINT NOT NULL
            )
            """,
            // Warm-up state per (IP, provider): each node writes only its own IPs' rows, so a
            // node restarted on another host continues its IPs' warm-up.
            """
            CREATE TABLE warmup_pairs (
              ip TEXT NOT NULL,
              provider TEXT NOT NULL,
              snapshot TEXT NOT NULL,
              PRIMARY KEY (ip, provider)
            )
            """,
            "CREATE TABLE pool_active (pool TEXT NOT NULL, ip TEXT NOT NULL, PRIMARY KEY (pool, ip))",
        ]),
        (2, "transactional mail is leased before bulk; the receiving host that answered", [
            // A message's priority (0 bulk, 1 transactional): due messages of priority > 0
            // are leased first, through a partial index that only they enter.
            "ALTER TABLE messages ADD COLUMN priority INTEGER NOT NULL DEFAULT 0",
            "CREATE INDEX messages_ready_priority ON messages (priority, next_attempt_at) WHERE state IN (0, 2) AND priority > 0",
            // With MX failover and route lists, which host took a message (or refused it).
            "ALTER TABLE events ADD COLUMN host TEXT",
            "ALTER TABLE messages ADD COLUMN last_host TEXT",
        ]),
        (3, "event destinations' cursors, reply class in events, the log's commit order, retention", [
            // Destinations read the log in (transaction id, id) order, and only transactions
            // older than every running one (`EventPosition`): an id taken by a transaction
            // that commits late is never skipped.
            """
            CREATE TABLE event_destinations (
              name TEXT PRIMARY KEY,
              major BIGINT NOT NULL,
              minor BIGINT NOT NULL,
              last_error TEXT,
              last_error_at BIGINT
            )
            """,
            """
            ALTER TABLE events ADD COLUMN class TEXT, ADD COLUMN reason TEXT, ADD COLUMN attempt INTEGER,
              ADD COLUMN txid BIGINT NOT NULL DEFAULT (pg_current_xact_id()::text::bigint)
            """,
            "CREATE INDEX events_log ON events (txid, id)",
            "CREATE INDEX messages_final ON messages (updated_at) WHERE state >= 3",
        ]),
        (4, "tenants, submitters' metadata, credentials", [
            // The tenant of a content (its reputation and pause scope), kept on each message
            // as `config_set` is, so that leasing skips paused tenants without a join.
            "ALTER TABLE contents ADD COLUMN tenant TEXT NOT NULL DEFAULT 'default'",
            // Per message, the submitter's metadata, given back in its events.
            "ALTER TABLE messages ADD COLUMN tenant TEXT NOT NULL DEFAULT 'default', ADD COLUMN metadata BYTEA",
            // The front door's credentials, as salted slow hashes only (JSON lists of strings).
            """
            CREATE TABLE credentials (
              name TEXT PRIMARY KEY,
              tenant TEXT NOT NULL,
              identities TEXT NOT NULL,
              from_addresses TEXT NOT NULL,
              sources TEXT NOT NULL,
              secret_hash TEXT NOT NULL,
              previous_hash TEXT,
              previous_until BIGINT,
              created_at BIGINT NOT NULL,
              updated_at BIGINT NOT NULL,
              revoked_at BIGINT
            )
            """,
        ]),
        (5, "leases carry an epoch", [
            // Each lease of a message takes the next epoch; an outcome or a release counts
            // only under the current one, so that a node that stalled past its lease cannot
            // overwrite what another node did since (`MessageLease`).
            "ALTER TABLE messages ADD COLUMN lease_epoch BIGINT NOT NULL DEFAULT 0",
        ]),
        (6, "nodes' slices of cluster-wide limits", [
            """
            CREATE TABLE quota_slices (
              quota TEXT NOT NULL, "window" TEXT NOT NULL, node TEXT NOT NULL,
              granted BIGINT NOT NULL, used BIGINT NOT NULL, expires_at BIGINT NOT NULL,
              PRIMARY KEY (quota, "window", node)
            )
            """,
        ]),
    ]

    /// Applies the migrations not yet applied; returns how many ran.
    static func migrate(_ client: PostgresClient, logger: Logger) async throws -> Int {
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(migrationLock))", logger: logger)
            try await connection.query("""
                CREATE TABLE IF NOT EXISTS kiln_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())
                """, logger: logger)
            var applied = Set<Int>()
            for try await version in try await connection.query("SELECT version FROM kiln_migrations", logger: logger).decode(Int.self) {
                applied.insert(version)
            }
            var ran = 0
            for migration in migrations where !applied.contains(migration.version) {
                for statement in migration.sql {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query("INSERT INTO kiln_migrations (version, name) VALUES (\(migration.version), \(migration.name))", logger: logger)
                ran += 1
            }
            return ran
        }
    }
}
