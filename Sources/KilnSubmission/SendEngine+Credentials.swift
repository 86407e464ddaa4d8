import Kiln
import KilnCore
import KilnStore

/// The front door's credentials, kept in the store (every node sharing it knows the same
/// ones) as salted hashes: a secret is returned once, when it is made.
extension SendEngine {
    /// Creates a credential and returns its secret. Refused (`.invalidInput`) when one of
    /// that name exists, even revoked.
    public func createCredential(name: String, tenant: String, identities: [String] = [], fromAddresses: [String] = [],
                                 sources: [String] = []) async throws(KilnError) -> String {
        let secret = CredentialSecret.generate()
        let record = CredentialRecord(name: name, tenant: tenant, identities: identities, fromAddresses: fromAddresses, sources: sources,
                                      secretHash: try CredentialSecret.hash(secret), createdAt: currentTime())
        try await store.createCredential(record)
        return secret
    }

    /// Every credential, revoked ones included, by name.
    public func credentials() async throws(KilnError) -> [CredentialRecord] {
        try await store.credentials()
    }

    /// Revokes a credential; false when there is no active one of that name.
    public func revokeCredential(name: String) async throws(KilnError) -> Bool {
        try await store.revokeCredential(name: name, now: currentTime())
    }

    /// Gives a live credential a new secret, returned with the time until which the old one
    /// keeps working (`grace` from now); nil when there is no active credential of that name.
    public func rotateCredential(name: String, grace: Duration) async throws(KilnError) -> (secret: String, previousUntil: Timestamp)? {
        let secret = CredentialSecret.generate()
        let now = currentTime()
        let until = now + grace
        guard try await store.rotateCredential(name: name, secretHash: try CredentialSecret.hash(secret), previousUntil: until, now: now) else { return nil }
        return (secret, until)
    }
}
