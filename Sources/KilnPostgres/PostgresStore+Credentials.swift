import KilnCore
import KilnStore
import PostgresNIO

/// The front door's credentials, shared by every node on the database: the same semantics
/// as SQLiteStore's (only salted slow hashes are stored; names are never reused).
extension PostgresStore {
    static let credentialColumns =
        "name, tenant, identities, from_addresses, sources, secret_hash, previous_hash, previous_until, created_at, updated_at, revoked_at"

    /// Refused (`.invalidInput`) when a credential of that name exists, even revoked; two
    /// nodes creating the same name at once: one wins, the other is refused.
    public func createCredential(_ record: CredentialRecord) async throws(KilnError) {
        let created = try await run("create a credential") {
            let rows = try await query("""
                WITH added AS (
                  INSERT INTO credentials (\(unescaped: Self.credentialColumns))
                  VALUES (\(record.name), \(record.tenant), \(CredentialRecord.encodeList(record.identities)), \(CredentialRecord.encodeList(record.fromAddresses)),
                          \(CredentialRecord.encodeList(record.sources)), \(record.secretHash), \(record.previousHash), \(record.previousUntil?.nanoseconds),
                          \(record.createdAt.nanoseconds), \(record.updatedAt.nanoseconds), \(record.revokedAt?.nanoseconds))
                  ON CONFLICT (name) DO NOTHING
                  RETURNING 1)
                SELECT count(*) FROM added
                """, logger: logger)
            var count = 0
            for try await n in rows.decode(Int.self) { count = n }
            return count > 0
        }
        guard created else { throw KilnError(.invalidInput, "a credential named '\(record.name)' exists already (names are never reused)", location: "--name") }
    }

    public func credentials() async throws(KilnError) -> [CredentialRecord] {
        try await run("read credentials") {
            // COLLATE "C": byte order, SQLite's order of names.
            let rows = try await query("SELECT \(unescaped: Self.credentialColumns) FROM credentials ORDER BY name COLLATE \"C\"", logger: logger)
            var records: [CredentialRecord] = []
            for try await r in rows.decode((String, String, String, String, String, String, String?, Int64?, Int64, Int64, Int64?).self) {
                records.append(CredentialRecord(
                    name: r.0, tenant: r.1, identities: CredentialRecord.decodeList(r.2), fromAddresses: CredentialRecord.decodeList(r.3),
                    sources: CredentialRecord.decodeList(r.4), secretHash: r.5, previousHash: r.6, previousUntil: r.7.map(Timestamp.init(nanoseconds:)),
                    createdAt: Timestamp(nanoseconds: r.8), updatedAt: Timestamp(nanoseconds: r.9), revokedAt: r.10.map(Timestamp.init(nanoseconds:))))
            }
            return records
        }
    }

    public func revokeCredential(name: String, now: Timestamp) async throws(KilnError) -> Bool {
        try await run("revoke a credential") {
            try await Self.changed(query("""
                UPDATE credentials SET revoked_at = \(now.nanoseconds), updated_at = \(now.nanoseconds) WHERE name = \(name) AND revoked_at IS NULL RETURNING 1
                """, logger: logger))
        }
    }

    public func rotateCredential(name: String, secretHash: String, previousUntil: Timestamp, now: Timestamp) async throws(KilnError) -> Bool {
        try await run("rotate a credential") {
            try await Self.changed(query("""
                UPDATE credentials SET previous_hash = secret_hash, previous_until = \(previousUntil.nanoseconds), secret_hash = \(secretHash),
                  updated_at = \(now.nanoseconds)
                WHERE name = \(name) AND revoked_at IS NULL RETURNING 1
                """, logger: logger))
        }
    }

    /// Whether a statement ending in `RETURNING 1` changed a row.
    private static func changed(_ rows: PostgresRowSequence) async throws -> Bool {
        var changed = false
        for try await _ in rows { changed = true }
        return changed
    }
}
