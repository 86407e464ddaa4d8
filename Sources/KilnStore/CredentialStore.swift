import Foundation
import GRDB
import KilnCore

/// A front-door credential as the store keeps it: never the secret, only its salted slow
/// hash (and, for a while after a rotation, the previous one's).
public struct CredentialRecord: Sendable, Hashable, Codable {
    public var name: String
    public var tenant: String
    /// Identity domains it may send from (empty: every identity its tenant may use).
    public var identities: [String]
    /// From addresses it may use (empty: any in its identities).
    public var fromAddresses: [String]
    /// Networks (`ADDRESS/PREFIX`) it may be used from (empty: any).
    public var sources: [String]
    /// `pbkdf2-sha256$ITERATIONS$SALT$HASH` (base64 salt and hash).
    public var secretHash: String
    /// The secret before the last rotation, accepted until `previousUntil`.
    public var previousHash: String?
    public var previousUntil: Timestamp?
    public var createdAt: Timestamp
    public var updatedAt: Timestamp
    public var revokedAt: Timestamp?

    public init(name: String, tenant: String, identities: [String] = [], fromAddresses: [String] = [], sources: [String] = [], secretHash: String,
                previousHash: String? = nil, previousUntil: Timestamp? = nil, createdAt: Timestamp, updatedAt: Timestamp? = nil, revokedAt: Timestamp? = nil) {
        self.name = name
        self.tenant = tenant
        self.identities = identities
        self.fromAddresses = fromAddresses
        self.sources = sources
        self.secretHash = secretHash
        self.previousHash = previousHash
        self.previousUntil = previousUntil
        self.createdAt = createdAt
        self.updatedAt = updatedAt ?? createdAt
        self.revokedAt = revokedAt
    }
}

/// Where credentials live: in the store, so that every node sharing it knows the same ones.
public protocol CredentialStore: Sendable {
    /// Adds a credential; refused (`.invalidInput`) when one of that name exists, even revoked.
    func createCredential(_ record: CredentialRecord) async throws(KilnError)
    /// Every credential, revoked ones included, by name.
    func credentials() async throws(KilnError) -> [CredentialRecord]
    /// Marks a credential revoked; false when there is none of that name (or it was revoked).
    func revokeCredential(name: String, now: Timestamp) async throws(KilnError) -> Bool
    /// Replaces a live credential's secret hash; the old one stays valid until `previousUntil`.
    func rotateCredential(name: String, secretHash: String, previousUntil: Timestamp, now: Timestamp) async throws(KilnError) -> Bool
    /// The events of one message, oldest first (at most `limit`).
    func events(ofMessage id: MessageID, limit: Int) async throws(KilnError) -> [DeliveryEvent]
}

extension CredentialRecord {
    static let columns = "name, tenant, identities, from_addresses, sources, secret_hash, previous_hash, previous_until, created_at, updated_at, revoked_at"

    /// A JSON array of strings for a list column.
    public static func encodeList(_ list: [String]) -> String {
        String(decoding: (try? JSONEncoder().encode(list)) ?? Data("[]".utf8), as: UTF8.self)
    }

    public static func decodeList(_ text: String) -> [String] {
        (try? JSONDecoder().decode([String].self, from: Data(text.utf8))) ?? []
    }
}

extension SQLiteStore {
    public func createCredential(_ record: CredentialRecord) async throws(KilnError) {
        let created = try await wrapAsync("create a credential") {
            try await pool.write { db -> Bool in
                if try Bool.fetchOne(db, sql: "SELECT 1 FROM credentials WHERE name = ?", arguments: [record.name]) != nil { return false }
                try db.execute(sql: "INSERT INTO credentials (\(CredentialRecord.columns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", arguments: [
                    record.name, record.tenant, CredentialRecord.encodeList(record.identities), CredentialRecord.encodeList(record.fromAddresses),
                    CredentialRecord.encodeList(record.sources), record.secretHash, record.previousHash, record.previousUntil?.nanoseconds,
                    record.createdAt.nanoseconds, record.updatedAt.nanoseconds, record.revokedAt?.nanoseconds,
                ])
                return true
            }
        }
        guard created else { throw KilnError(.invalidInput, "a credential named '\(record.name)' exists already (names are never reused)", location: "--name") }
    }

    public func credentials() async throws(KilnError) -> [CredentialRecord] {
        try await wrapAsync("read credentials") {
            try await pool.read { db in
                try Row.fetchAll(db, sql: "SELECT \(CredentialRecord.columns) FROM credentials ORDER BY name").map { row in
                    CredentialRecord(
                        name: row[0], tenant: row[1], identities: CredentialRecord.decodeList(row[2]), fromAddresses: CredentialRecord.decodeList(row[3]),
                        sources: CredentialRecord.decodeList(row[4]), secretHash: row[5], previousHash: row[6],
                        previousUntil: (row[7] as Int64?).map(Timestamp.init(nanoseconds:)), createdAt: Timestamp(nanoseconds: row[8]),
                        updatedAt: Timestamp(nanoseconds: row[9]), revokedAt: (row[10] as Int64?).map(Timestamp.init(nanoseconds:)))
                }
            }
        }
    }

    public func revokeCredential(name: String, now: Timestamp) async throws(KilnError) -> Bool {
        try await wrapAsync("revoke a credential") {
            try await pool.write { db in
                try db.execute(sql: "UPDATE credentials SET revoked_at = ?, updated_at = ? WHERE name = ? AND revoked_at IS NULL",
                               arguments: [now.nanoseconds, now.nanoseconds, name])
                return db.changesCount > 0
            }
        }
    }

    public func rotateCredential(name: String, secretHash: String, previousUntil: Timestamp, now: Timestamp) async throws(KilnError) -> Bool {
        try await wrapAsync("rotate a credential") {
            try await pool.write { db in
                try db.execute(sql: """
                    UPDATE credentials SET previous_hash = secret_hash, previous_until = ?, secret_hash = ?, updated_at = ?
                    WHERE name = ? AND revoked_at IS NULL
                    """, arguments: [previousUntil.nanoseconds, secretHash, now.nanoseconds, name])
                return db.changesCount > 0
            }
        }
    }
}
