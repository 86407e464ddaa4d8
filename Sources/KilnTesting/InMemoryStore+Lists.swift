import KilnCore
import KilnStore

// The suppression list, reputation and feedback, campaigns, the event log as
// destinations read it, and credentials.
extension InMemoryStore {
    // MARK: Suppression

    @discardableResult
    public func suppress(_ entries: [SuppressionEntry], replace: Bool) async throws(KilnError) -> Int {
        state.withLock { $0.suppress(entries, replace: replace) }
    }

    @discardableResult
    public func unsuppress(_ address: String, scope: String?) async throws(KilnError) -> Bool {
        state.withLock { $0.suppressions.removeValue(forKey: SuppressionKey(scope: scope ?? "", address: address.lowercased())) != nil }
    }

    public func suppression(of address: String, scope: String?) async throws(KilnError) -> SuppressionEntry? {
        state.withLock { $0.suppression(of: address, scope: scope) }
    }

    public func suppressions(of addresses: [String], scope: String) async throws(KilnError) -> [String: SuppressionReason] {
        state.withLock { state in
            addresses.reduce(into: [:]) { found, address in found[address] = state.suppression(of: address, scope: scope)?.reason }
        }
    }

    /// A page in (scope, address) byte order, as the other stores give it.
    public func suppressionPage(reason: SuppressionReason?, pageSize: Int, after token: String?) async throws(KilnError) -> SuppressionPage {
        let size = max(1, min(pageSize, 10_000))
        let after = try SuppressionPage.cursor(token).map { Array(($0.scope + "\u{0}" + $0.address).utf8) }
        return state.withLock { state in
            let entries = state.suppressions.filter { reason == nil || $0.value.reason == reason }
                .map { (key: Array(($0.key.scope + "\u{0}" + $0.key.address).utf8), entry: $0.value) }
                .filter { entry in after.map { $0.lexicographicallyPrecedes(entry.key) } ?? true }
                .sorted { $0.key.lexicographicallyPrecedes($1.key) }
            return SuppressionPage(reading: entries.prefix(size + 1).map(\.entry), size: size)
        }
    }

    public func suppressionTotal() async throws(KilnError) -> Int {
        state.withLock { $0.suppressions.count }
    }

    public func suppressionCounts() async throws(KilnError) -> [SuppressionReason: Int] {
        state.withLock { state in state.suppressions.values.reduce(into: [:]) { $0[$1.reason, default: 0] += 1 } }
    }

    // MARK: Reputation and feedback

    @discardableResult
    public func recordFeedback(events: [DeliveryEvent], bounces: [MessageID], complaints: [MessageID], suppressions: [SuppressionEntry], now: Timestamp)
        async throws(KilnError) -> Int {
        state.withLock { state in
            state.append(events)
            state.count(sent: [], bounces: bounces, complaints: complaints, now: now)
            return state.suppress(suppressions, replace: false)
        }
    }

    public func reputationHours(now: Timestamp, hours: Int) async throws(KilnError) -> [String: [ReputationHour]] {
        let first = ReputationScope.hour(of: now) - Int64(hours)
        return state.withLock { state in
            state.reputation.mapValues { $0.values.filter { $0.hour > first }.sorted { $0.hour < $1.hour } }.filter { !$0.value.isEmpty }
        }
    }

    public func reputationWindowStart(scope: String) async throws(KilnError) -> Int64? {
        state.withLock { $0.windowStarts[scope] }
    }

    public func restartReputationWindow(scope: String, now: Timestamp) async throws(KilnError) {
        state.withLock { $0.windowStarts[scope] = ReputationScope.hour(of: now) + 1 }
    }

    /// By id, else the latest message attempted to `recipient` (its case aside) among the
    /// most recent 200,000, as the other stores look.
    public func feedbackTarget(messageID: MessageID?, recipient: String?) async throws(KilnError) -> (id: MessageID, configurationSet: String, recipient: String)? {
        state.withLock { state -> (id: MessageID, configurationSet: String, recipient: String)? in
            let contents = state.contents
            func target(_ message: Message) -> (id: MessageID, configurationSet: String, recipient: String) {
                (message.id, contents[message.contentID]?.configurationSet ?? "", message.recipient)
            }
            if let messageID { return state.messages[messageID.rawValue].map(target) }
            guard let lowered = recipient?.lowercased() else { return nil }
            let newest = state.nextID.message - 1
            return state.messages.values
                .filter { message in
                    message.id.rawValue > newest - 200_000 && message.attempts > 0 && message.recipient.lowercased() == lowered
                        && [.delivered, .bounced, .deferred, .expired].contains(message.state)
                }
                .max { $0.id.rawValue < $1.id.rawValue }.map(target)
        }
    }

    // MARK: Campaigns

    public func createCampaign(id: String, content: StoredContent, recipientsFile: String, now: Timestamp) async throws(KilnError) -> CampaignRecord {
        state.withLock { state in
            if let existing = state.campaigns[id] { return existing }
            let record = CampaignRecord(id: id, contentID: state.add(content: content), recipientsFile: recipientsFile, configurationSet: content.configurationSet,
                                        rowsRead: 0, rejectedRows: 0, suppressed: 0, duplicates: 0, accepted: 0, ingestComplete: false)
            state.campaigns[id] = record
            return record
        }
    }

    public func campaign(id: String) async throws(KilnError) -> CampaignRecord? {
        state.withLock { $0.campaigns[id] }
    }

    /// Queues the rows not suppressed (account-wide or in the campaign's set) and moves the
    /// resume point, at once.
    public func ingest(campaign: String, contentID: Int64, rows: [CampaignRow], rowsRead: Int, rejected: Int, duplicates: Int, complete: Bool,
                       now: Timestamp) async throws(KilnError) -> Int {
        state.withLock { state in
            let set = state.campaigns[campaign]?.configurationSet ?? ""
            let kept = rows.filter { state.suppression(of: $0.address, scope: set) == nil }
            let accepted = kept.map { row in
                state.addMessage(contentID: contentID, state: .queued, provider: row.provider, recipient: row.address, variables: row.variables, priority: 0,
                                 metadata: nil, now: now).acceptedEvent(now: now)
            }
            state.append(accepted)
            if var record = state.campaigns[campaign] {
                record.rowsRead = rowsRead
                record.rejectedRows += rejected
                record.suppressed += rows.count - kept.count
                record.duplicates += duplicates
                record.accepted += kept.count
                record.ingestComplete = complete
                state.campaigns[campaign] = record
            }
            return kept.count
        }
    }

    public func recipients(contentID: Int64, after: MessageID?, limit: Int) async throws(KilnError) -> (addresses: [String], next: MessageID?) {
        state.withLock { state in
            let page = state.messages.values.filter { $0.contentID == contentID && $0.id.rawValue > (after?.rawValue ?? 0) }
                .sorted { $0.id.rawValue < $1.id.rawValue }.prefix(max(0, limit))
            return (page.map(\.recipient), page.count < limit ? nil : page.last?.id)
        }
    }

    public func campaignCounts(contentID: Int64) async throws(KilnError) -> (counts: [StateCount], spilled: Int, transientFailures: Int) {
        state.withLock { state in
            let messages = state.messages.values.filter { $0.contentID == contentID }
            var counts: [MessageState: [MailboxProvider: Int]] = [:]
            for message in messages { counts[message.state, default: [:]][message.provider, default: 0] += 1 }
            return (counts.flatMap { messageState, providers in providers.map { StateCount(state: messageState, provider: $0.key, count: $0.value) } },
                    messages.filter { $0.state == .delivered && $0.sourceIP == SendingPath.shared.description }.count,
                    messages.filter { $0.state == .deferred && $0.attempts > 0 }.count)
        }
    }

    public func countEvents(kind: DeliveryEvent.Kind, contentID: Int64) async throws(KilnError) -> Int {
        state.withLock { state in
            state.events.filter { row in row.event.kind == kind && row.event.messageID.flatMap { state.messages[$0.rawValue] }?.contentID == contentID }.count
        }
    }

    // MARK: Event destinations and retention

    public func outboxEvents(after position: EventPosition, limit: Int) async throws(KilnError) -> [StoredEvent] {
        state.withLock { state in
            let rows = state.events.filter { $0.id > position.minor }.prefix(max(0, limit))
            return rows.map { state.stored($0) }
        }
    }

    public func outboxCount(after position: EventPosition, cap: Int, taking filter: OutboxFilter?) async throws(KilnError) -> Int {
        state.withLock { state in
            var count = 0
            for row in state.events where count < cap && row.id > position.minor && (filter?.takes(state.stored(row)) ?? true) { count += 1 }
            return count
        }
    }

    public func outboxTime(after position: EventPosition) async throws(KilnError) -> Timestamp? {
        state.withLock { $0.events.first { $0.id > position.minor }?.event.time }
    }

    public func destinationCursors() async throws(KilnError) -> [String: DestinationCursor] {
        state.withLock { $0.cursors }
    }

    public func saveDestinationCursor(_ cursor: DestinationCursor) async throws(KilnError) {
        state.withLock { $0.cursors[cursor.name] = cursor }
    }

    /// Up to `limit` final messages last updated before `before` (oldest first), the
    /// contents no message or campaign uses any more, and those of the oldest `limit`
    /// events that are older than `before`.
    public func purge(before: Timestamp, limit: Int) async throws(KilnError) -> PurgeResult {
        state.withLock { state in
            let old = state.messages.values.filter { $0.state.isFinal && $0.updatedAt < before }
                .sorted { ($0.updatedAt, $0.id.rawValue) < ($1.updatedAt, $1.id.rawValue) }.prefix(max(0, limit))
            for message in old { state.messages[message.id.rawValue] = nil }
            let used = Set(state.messages.values.map(\.contentID)).union(state.campaigns.values.map(\.contentID))
            let unused = Set(old.map(\.contentID)).subtracting(used)
            for id in unused { state.contents[id] = nil }
            let expired = Set(state.events.prefix(max(0, limit)).filter { $0.event.time < before }.map(\.id))
            state.events.removeAll { expired.contains($0.id) }
            return PurgeResult(messages: old.count, contents: unused.count, events: expired.count)
        }
    }

    // MARK: Credentials

    public func createCredential(_ record: CredentialRecord) async throws(KilnError) {
        let created = state.withLock { state in
            guard state.credentials[record.name] == nil else { return false }
            state.credentials[record.name] = record
            return true
        }
        guard created else { throw KilnError(.invalidInput, "a credential named '\(record.name)' exists already (names are never reused)", location: "--name") }
    }

    /// By name, in byte order.
    public func credentials() async throws(KilnError) -> [CredentialRecord] {
        state.withLock { state in state.credentials.values.sorted { Array($0.name.utf8).lexicographicallyPrecedes(Array($1.name.utf8)) } }
    }

    public func revokeCredential(name: String, now: Timestamp) async throws(KilnError) -> Bool {
        changeLiveCredential(name) {
            $0.revokedAt = now
            $0.updatedAt = now
        }
    }

    public func rotateCredential(name: String, secretHash: String, previousUntil: Timestamp, now: Timestamp) async throws(KilnError) -> Bool {
        changeLiveCredential(name) {
            $0.previousHash = $0.secretHash
            $0.previousUntil = previousUntil
            $0.secretHash = secretHash
            $0.updatedAt = now
        }
    }

    /// Changes the credential `name` unless it is revoked; false when there is none to change.
    private func changeLiveCredential(_ name: String, _ change: (inout CredentialRecord) -> Void) -> Bool {
        state.withLock { state in
            guard var record = state.credentials[name], record.revokedAt == nil else { return false }
            change(&record)
            state.credentials[name] = record
            return true
        }
    }
}
