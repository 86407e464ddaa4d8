import KilnCore

/// What recording an outcome does beside changing its message, decided once for every
/// store: the dispatcher's outcome says what happened; these say what the store keeps of it.
extension Outcome {
    /// Whether the outcome counts as a send in its scopes' reputation counters: a final
    /// attempt (delivered or bounced).
    public var countsAsSend: Bool { state == .delivered || state == .bounced }

    /// Whether the outcome counts as a hard bounce against its scopes' reputation: the
    /// dispatcher named its recipient to be suppressed.
    public var countsAsHardBounce: Bool { suppressRecipient != nil }

    /// The suppression the outcome adds: its recipient (a bad address: user unknown, no
    /// such domain), account-wide and for good, named by the reply that said so.
    public func suppression(now: Timestamp) -> SuppressionEntry? {
        suppressRecipient.map { SuppressionEntry(address: $0, reason: .bounce, source: "bounce: \(reply?.description ?? "")", createdAt: now) }
    }
}

/// The reputation counters' scopes and hours.
public enum ReputationScope {
    /// The scopes a message counts in: its configuration set and its tenant (`tenant:NAME`).
    public static func of(configurationSet: String, tenant: String) -> [String] {
        [configurationSet, PausedScope.tenant(tenant)]
    }

    /// The counters' hour of `time`: whole hours since the epoch.
    public static func hour(of time: Timestamp) -> Int64 { time.nanoseconds / 3_600_000_000_000 }
}

extension OutboxFilter {
    /// Whether a destination of `configurationSet` is concerned by `stored`, whatever its
    /// kind: an event of its set's messages, or an engine event that concerns it (a pause
    /// of the account or of its set, a pool scaling, an event tied to no message). The
    /// same rule as `condition(kinds:set:)`.
    public static func concerns(_ stored: StoredEvent, configurationSet: String) -> Bool {
        if let set = stored.configurationSet { return set == configurationSet }
        switch stored.event.kind {
        case .paused, .resumed: return stored.event.detail == "*" || stored.event.detail == configurationSet
        case .poolScaled: return true
        default: return stored.event.messageID == nil
        }
    }

    /// Whether the destination takes `stored`: one of its kinds, and concerning it.
    public func takes(_ stored: StoredEvent) -> Bool {
        kinds.contains(stored.event.kind.rawValue) && Self.concerns(stored, configurationSet: configurationSet)
    }
}
