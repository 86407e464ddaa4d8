import KilnCore
import KilnStore

/// What the store holds, for operators' tools (the `kiln` commands): messages and their
/// events, recent events, campaigns and the suppression list, and the few changes made by
/// hand (retry now, suppress, unsuppress, migrate). Each is one store call, so the engine
/// need not be running; a running engine on the same store sees the change.
extension SendEngine {
    /// The store's location (a file path, or the PostgreSQL URL without its password).
    public var storeLocation: String { store.location }

    /// Creates or upgrades the store's schema; returns how many migrations ran.
    public func migrateStore() async throws(KilnError) -> Int {
        try await store.migrate()
    }

    /// The messages of `ids` the store holds.
    public func messages(ids: [MessageID]) async throws(KilnError) -> [MessageRecord] {
        try await store.messages(ids: ids)
    }

    /// The events of one message, oldest first (at most `limit`).
    public func events(ofMessage id: MessageID, limit: Int) async throws(KilnError) -> [DeliveryEvent] {
        try await store.events(ofMessage: id, limit: limit)
    }

    /// The newest events matching `filter`, at most `limit`.
    public func recentEvents(matching filter: EventQuery, limit: Int) async throws(KilnError) -> [StoredEvent] {
        try await store.recentEvents(matching: filter, limit: limit)
    }

    /// The paused scopes: `*` for the whole store, else configuration set names.
    public func pausedScopes() async throws(KilnError) -> Set<String> {
        try await store.pausedScopes()
    }

    /// The campaign `id`, nil when the store has none of that id.
    public func campaign(id: String) async throws(KilnError) -> CampaignRecord? {
        try await store.campaign(id: id)
    }

    /// Makes deferred messages due now: all of them, or one provider's, or one recipient's.
    /// Returns how many.
    public func retryNow(provider: MailboxProvider?, recipient: String?) async throws(KilnError) -> Int {
        try await store.retryNow(provider: provider, recipient: recipient, now: now())
    }

    /// One page of the suppression list (`after`: the previous page's `nextToken`).
    public func suppressionPage(reason: SuppressionReason?, pageSize: Int, after token: String?) async throws(KilnError) -> SuppressionPage {
        try await store.suppressionPage(reason: reason, pageSize: pageSize, after: token)
    }

    /// Suppresses `entries`, replacing the entry of an address already on the list in the
    /// same scope (an operator's word is the latest); returns how many were added.
    public func suppress(_ entries: [SuppressionEntry]) async throws(KilnError) -> Int {
        try await store.suppress(entries, replace: true)
    }

    /// Takes `addresses` off the list of `scope` (nil: the account-wide list); returns how
    /// many were on it.
    public func unsuppress(_ addresses: [String], scope: String?) async throws(KilnError) -> Int {
        var removed = 0
        for address in addresses where try await store.unsuppress(address, scope: scope) { removed += 1 }
        return removed
    }
}
