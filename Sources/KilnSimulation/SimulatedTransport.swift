import DequeModule
import KilnCore

/// The transport between the simulated engine and the providers, as in the engine:
/// routed attempts queue for the pair's connections (the engine's `maxConnections` for
/// the provider), each transaction takes `transactionTime`, and a reply reaches the
/// dispatcher only when its transaction ends. At most `maxInFlight` attempts per provider
/// are routed and not yet answered. A sender that routes more than a pair can take learns
/// of it only after the attempts already queued have gone out.
struct SimulatedTransport {
    /// A refusal not yet back: the attempt's transaction ends at `at`.
    struct PendingReply {
        var at: Int64
        var ip: Int
        var outcome: SimulatedPair.Outcome
        var created: Int64
        var attempts: Int
    }

    /// One message's SMTP transaction on an open connection (MAIL, RCPT, DATA and the
    /// reply): 0.2 s, so five connections carry 90,000 an hour.
    static let transactionTime: Int64 = 200_000_000
    /// Attempts routed and not yet answered, per provider (the engine's default in flight).
    static let maxInFlight = 256

    let connections: [Int]
    let stride: Int
    let ipCount: Int
    /// When each connection of each pair is free again: [(p × IPs + i) × stride + c].
    var connectionFree: [Int64]
    /// Per pair (p × IPs + i), the connection free first. Every transaction takes the same
    /// time and the clock only moves on, so the first free connection goes round in a
    /// ring: the one just taken is free last.
    var nextConnection: [Int]
    /// When the attempts in flight end, per provider (for the in-flight bound).
    var inFlight: [Deque<Int64>]
    /// The refusals not yet back, per provider, in the order they come back.
    var refusals: [Deque<PendingReply>]

    /// - Parameter connections: connections per (IP, provider) pair, per provider.
    init(connections: [Int], ips: Int) {
        self.connections = connections
        stride = connections.max() ?? 1
        ipCount = ips
        connectionFree = Array(repeating: Int64.min, count: connections.count * ips * stride)
        nextConnection = Array(repeating: 0, count: connections.count * ips)
        inFlight = connections.map { _ in Deque<Int64>() }
        refusals = connections.map { _ in Deque<PendingReply>() }
    }

    /// Whether provider `p` can take another attempt at `clock`: nil when it can, else the
    /// time its first transaction in flight ends (the dispatcher waits for it).
    mutating func waitTime(_ p: Int, at clock: Int64) -> Int64? {
        while let first = inFlight[p].first, first <= clock { inFlight[p].removeFirst() }
        guard inFlight[p].count >= Self.maxInFlight, let first = inFlight[p].first else { return nil }
        return first
    }

    /// Puts an attempt on the pair's first free connection; returns when its transaction
    /// begins (the provider answers then) and ends (the reply is back then).
    mutating func start(_ p: Int, ip i: Int, at clock: Int64) -> (begins: Int64, ends: Int64) {
        let pair = p * ipCount + i
        let free = pair * stride + nextConnection[pair]
        nextConnection[pair] = nextConnection[pair] + 1 == connections[p] ? 0 : nextConnection[pair] + 1
        let begins = max(clock, connectionFree[free])
        let ends = begins + Self.transactionTime
        connectionFree[free] = ends
        inFlight[p].append(ends)
        return (begins, ends)
    }

    /// Keeps a refusal until its transaction ends, in the order they come back: a pair
    /// with a longer queue answers later.
    mutating func queue(_ reply: PendingReply, provider p: Int) {
        var position = refusals[p].endIndex
        while position > refusals[p].startIndex, refusals[p][position - 1].at > reply.at { position -= 1 }
        refusals[p].insert(reply, at: position)
    }

    /// When the next refusal of provider `p` is back, if one is out.
    func nextReplyTime(_ p: Int) -> Int64? { refusals[p].first?.at }

    /// Whether a refusal of provider `p` is back by `time`.
    func hasReply(_ p: Int, by time: Int64) -> Bool {
        refusals[p].first.map { $0.at <= time } ?? false
    }

    /// The next refusal of provider `p` back by `time`, if any.
    mutating func nextReply(_ p: Int, by time: Int64) -> PendingReply? {
        guard hasReply(p, by: time) else { return nil }
        return refusals[p].removeFirst()
    }
}
