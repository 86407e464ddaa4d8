import KilnCore

/// A node's slice of a limit that holds for the whole cluster (the shared relay's daily
/// limit): what the node was granted in a window and what it has used of it. Slices are
/// leased like messages: a node renews its own with every heartbeat; a slice not renewed
/// by `expiresAt` (its node stopped) gives its unused part back to the others.
public struct QuotaSlice: Sendable, Hashable, Codable {
    public var node: String
    public var window: String
    public var granted: Int
    public var used: Int
    public var expiresAt: Timestamp

    public init(node: String, window: String, granted: Int, used: Int, expiresAt: Timestamp) {
        self.node = node
        self.window = window
        self.granted = granted
        self.used = used
        self.expiresAt = expiresAt
    }

    /// What the node may still use of its slice.
    public var remaining: Int { max(0, granted - used) }

    /// What this slice takes from the limit at `now`: what it used, and while it is
    /// alive, what it was granted and has not used yet.
    public func held(at now: Timestamp) -> Int {
        expiresAt > now ? max(granted, used) : used
    }

    /// The policy, one place for every store: `node`'s slice after it reports `used` and
    /// asks for `want` more, given the other nodes' slices in the same window. The grant
    /// never takes the window's total past `limit`. `used` nil: the node does not know (a
    /// run that just started cannot tell what its predecessor spent), and all that was
    /// granted to it counts as used.
    public static func grant(node: String, window: String, mine: QuotaSlice?, others: [QuotaSlice], used: Int?, want: Int, limit: Int,
                             now: Timestamp, until: Timestamp) -> QuotaSlice {
        let used = max(used ?? mine?.granted ?? 0, mine?.used ?? 0)
        let taken = others.reduce(0) { $0 + $1.held(at: now) }
        let available = max(0, limit - taken - used)
        let granted = used + min(max(0, want), available)
        return QuotaSlice(node: node, window: window, granted: granted, used: used, expiresAt: until)
    }

    /// The window of a daily limit at `now`: its UTC day, `YYYY-MM-DD`.
    public static func day(of now: Timestamp) -> String {
        String(EventRecord.rfc3339(now).prefix(10))
    }
}
