import GRDB

enum Schema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE contents (
                  id INTEGER PRIMARY KEY,
                  data BLOB NOT NULL,
                  envelope_domain TEXT NOT NULL,
                  config_set TEXT NOT NULL,
                  campaign TEXT
                );
                CREATE TABLE messages (
                  id INTEGER PRIMARY KEY,
                  content_id INTEGER NOT NULL REFERENCES contents(id),
                  state INTEGER NOT NULL,
                  provider TEXT NOT NULL,
                  recipient TEXT NOT NULL,
                  variables BLOB,
                  created_at INTEGER NOT NULL,
                  next_attempt_at INTEGER NOT NULL,
                  lease_expires_at INTEGER,
                  attempts INTEGER NOT NULL DEFAULT 0,
                  source_ip TEXT,
                  last_code INTEGER,
                  last_status TEXT,
                  last_text TEXT,
                  updated_at INTEGER NOT NULL
                );
                CREATE INDEX messages_ready ON messages(next_attempt_at) WHERE state IN (0, 2);
                CREATE INDEX messages_state_provider ON messages(state, provider);
                CREATE TABLE events (
                  id INTEGER PRIMARY KEY,
                  time INTEGER NOT NULL,
                  kind TEXT NOT NULL,
                  message_id INTEGER,
                  recipient TEXT,
                  provider TEXT,
                  source_ip TEXT,
                  code INTEGER,
                  status TEXT,
                  text TEXT,
                  detail TEXT
                );
                CREATE INDEX events_message ON events(message_id);
                CREATE TABLE control (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                """)
        }
        migrator.registerMigration("v2: the From domain of a content, for DKIM") { db in
            try db.execute(sql: "ALTER TABLE contents ADD COLUMN from_domain TEXT")
        }
        migrator.registerMigration("v3: template contents") { db in
            try db.execute(sql: "ALTER TABLE contents ADD COLUMN is_template INTEGER NOT NULL DEFAULT 0")
        }
        migrator.registerMigration("v4: campaigns and the suppression list") { db in
            try db.execute(sql: """
                CREATE TABLE campaigns (
                  id TEXT PRIMARY KEY,
                  content_id INTEGER NOT NULL REFERENCES contents(id),
                  recipients_file TEXT NOT NULL,
                  config_set TEXT NOT NULL,
                  rows_read INTEGER NOT NULL DEFAULT 0,
                  rejected_rows INTEGER NOT NULL DEFAULT 0,
                  suppressed INTEGER NOT NULL DEFAULT 0,
                  duplicates INTEGER NOT NULL DEFAULT 0,
                  accepted INTEGER NOT NULL DEFAULT 0,
                  ingest_complete INTEGER NOT NULL DEFAULT 0,
                  created_at INTEGER NOT NULL
                );
                CREATE TABLE campaign_seen (
                  content_id INTEGER NOT NULL,
                  address TEXT NOT NULL,
                  PRIMARY KEY (content_id, address)
                ) WITHOUT ROWID;
                CREATE TABLE suppressions (
                  address TEXT PRIMARY KEY,
                  reason TEXT NOT NULL,
                  created_at INTEGER NOT NULL
                ) WITHOUT ROWID;
                CREATE INDEX messages_content ON messages(content_id, state);
                """)
        }
        migrator.registerMigration("v5: scoped suppression list with reasons, reputation counters") { db in
            try db.execute(sql: """
                CREATE TABLE suppression_list (
                  scope TEXT NOT NULL,
                  address TEXT NOT NULL,
                  reason TEXT NOT NULL,
                  source TEXT NOT NULL,
                  created_at INTEGER NOT NULL,
                  PRIMARY KEY (scope, address)
                ) WITHOUT ROWID;
                CREATE INDEX suppression_by_reason ON suppression_list(reason, scope, address);
                CREATE INDEX suppression_by_address ON suppression_list(address);
                INSERT INTO suppression_list (scope, address, reason, source, created_at)
                  SELECT '', address, 'BOUNCE', reason, created_at FROM suppressions;
                DROP TABLE suppressions;
                CREATE TABLE reputation_hours (
                  scope TEXT NOT NULL,
                  hour INTEGER NOT NULL,
                  sent INTEGER NOT NULL DEFAULT 0,
                  bounces INTEGER NOT NULL DEFAULT 0,
                  complaints INTEGER NOT NULL DEFAULT 0,
                  PRIMARY KEY (scope, hour)
                ) WITHOUT ROWID;
                """)
        }
        migrator.registerMigration("v6: campaign de-duplication in memory; one index fewer per queued message") { db in
            // Campaign ingestion de-duplicates in memory now; `(state, provider)` served the
            // status counts (now from `messages_content`) and the recovery of leases (now a
            // partial index that queued messages never enter).
            try db.execute(sql: """
                DROP TABLE campaign_seen;
                DROP INDEX messages_state_provider;
                DROP INDEX messages_content;
                CREATE INDEX messages_content ON messages(content_id, state, provider);
                CREATE INDEX messages_leased ON messages(lease_expires_at) WHERE state = 1;
                """)
        }
        migrator.registerMigration("v7: leases name their owner") { db in
            // A store shared by several nodes needs to know whose lease a message is under;
            // the embedded store records it too, so that both have one shape.
            try db.execute(sql: "ALTER TABLE messages ADD COLUMN lease_owner TEXT")
        }
        migrator.registerMigration("v8: transactional mail is leased before bulk") { db in
            // A message's priority (0 bulk, 1 transactional). The lease takes due messages
            // of priority > 0 first, through a partial index that only they enter: bulk
            // rows cost no extra index entry, and the bulk lease query is unchanged.
            try db.execute(sql: """
                ALTER TABLE messages ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
                CREATE INDEX messages_ready_priority ON messages(priority, next_attempt_at) WHERE state IN (0, 2) AND priority > 0;
                """)
        }
        migrator.registerMigration("v9: the receiving host that answered") { db in
            // With MX failover and route lists, which host took a message (or refused it).
            try db.execute(sql: """
                ALTER TABLE events ADD COLUMN host TEXT;
                ALTER TABLE messages ADD COLUMN last_host TEXT;
                """)
        }
        migrator.registerMigration("v10: event destinations' cursors, reply class in events, retention") { db in
            // Each destination's place in the event log and its last error; the reply's
            // class, reason and attempt number with each event; final messages by age, for
            // the retention purge.
            try db.execute(sql: """
                CREATE TABLE event_destinations (
                  name TEXT PRIMARY KEY,
                  position INTEGER NOT NULL,
                  last_error TEXT,
                  last_error_at INTEGER
                ) WITHOUT ROWID;
                ALTER TABLE events ADD COLUMN class TEXT;
                ALTER TABLE events ADD COLUMN reason TEXT;
                ALTER TABLE events ADD COLUMN attempt INTEGER;
                CREATE INDEX messages_final ON messages(updated_at) WHERE state >= \(MessageState.delivered.rawValue);
                """)
        }
        migrator.registerMigration("v11: tenants, submitters' metadata, credentials") { db in
            // The tenant of a content (its reputation and pause scope); per message, the
            // submitter's metadata given back in its events; the front door's credentials,
            // as salted slow hashes only.
            try db.execute(sql: """
                ALTER TABLE contents ADD COLUMN tenant TEXT NOT NULL DEFAULT 'default';
                ALTER TABLE messages ADD COLUMN metadata BLOB;
                CREATE TABLE credentials (
                  name TEXT PRIMARY KEY,
                  tenant TEXT NOT NULL,
                  identities TEXT NOT NULL,
                  from_addresses TEXT NOT NULL,
                  sources TEXT NOT NULL,
                  secret_hash TEXT NOT NULL,
                  previous_hash TEXT,
                  previous_until INTEGER,
                  created_at INTEGER NOT NULL,
                  updated_at INTEGER NOT NULL,
                  revoked_at INTEGER
                ) WITHOUT ROWID;
                """)
        }
        migrator.registerMigration("v12: leases carry an epoch") { db in
            // Each lease of a message takes the next epoch; an outcome or a release counts
            // only under the current one, so that a holder that stalled past its lease
            // cannot overwrite what came after (`MessageLease`).
            try db.execute(sql: "ALTER TABLE messages ADD COLUMN lease_epoch INTEGER NOT NULL DEFAULT 0")
        }
        migrator.registerMigration("v13: nodes' slices of cluster-wide limits") { db in
            try db.execute(sql: """
                CREATE TABLE quota_slices (
                  quota TEXT NOT NULL, window TEXT NOT NULL, node TEXT NOT NULL,
                  granted INTEGER NOT NULL, used INTEGER NOT NULL, expires_at INTEGER NOT NULL,
                  PRIMARY KEY (quota, window, node)
                ) WITHOUT ROWID
                """)
        }
        return migrator
    }
}
