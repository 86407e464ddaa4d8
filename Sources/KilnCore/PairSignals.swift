/// Why a pair was slowed or suspended by what the provider did rather than by what its
/// reply said: Kiln protects an IP from replies it cannot read.
public enum PairSignal: String, Sendable, Codable, CaseIterable {
    /// Temporary failures at a rate well above the pair's normal one: a throttle.
    case congestion
    /// Permanent refusals (not "user unknown") of several distinct recipients where mail
    /// was taken before: a block.
    case block
    /// A throttle that came back after every rest: treated as a block.
    case escalation
}

/// What one (IP, provider) pair's recent attempts did, whatever the replies said, and the
/// three behavioural signals read from it (TCP's view: a sender slows down on loss, not on
/// the reason for it).
///
/// The counts cover a sliding window of `window` (the current window plus the previous
/// one, weighted by how much of it still overlaps), so a burst is seen whether or not it
/// straddles a boundary.
///
/// | signal | fires when (in the sliding window) |
/// |---|---|
/// | congestion | at least `minFailures` temporary failures or connection throttles (greylisting on a first attempt, the sender's authentication and a session's message count excluded), at least `failureShare` of the attempts, and at least `baselineFactor` × the pair's own usual share |
/// | block | at least `minFailures` distinct recipients refused permanently (not `permanent-user`, not the sender's authentication), at least `failureShare` of the attempts, on a pair that had taken more mail than it refused |
/// | escalation | a throttle within `clearance` of the end of the pair's last rest, for the `escalateAfter`-th time in a row |
public struct PairSignals: Sendable, Hashable {
    /// The sliding window: 5 minutes, about 20 round trips of a slow transaction and well
    /// inside one provider hour.
    public static let window: Int64 = 300_000_000_000
    /// Failures (or distinct refused recipients) before either signal can fire.
    public static let minFailures = 5
    /// The share of the window's attempts that must fail.
    public static let failureShare = 0.25
    /// How far above the pair's usual share of temporary failures congestion must be.
    public static let baselineFactor = 4.0
    /// Rests in a row that did not clear a throttle before it is treated as a block.
    public static let escalateAfter = 3
    /// A throttle this soon after a rest ended means the rest did not clear it.
    public static let clearance: Int64 = 600_000_000_000

    var windowStart: Int64 = .min
    var attempts = 0
    var previousAttempts = 0
    var temporary = 0
    var previousTemporary = 0
    var permanent = 0
    var previousPermanent = 0
    /// The last few permanently refused recipients (keys), so a retried one counts once.
    var refusedRecipients: [Int] = []
    /// Attempts and refusals over the pair's life, for "took mail before".
    var totalAttempts = 0
    var totalRefusals = 0
    /// The usual share of temporary failures (an average over closed windows that fired
    /// no signal).
    var baseline = 0.0
    /// When the last throttle's rest ends, and the throttles in a row that came soon after one.
    var restEnd: Int64 = .min
    var failedRests = 0

    public init() {}

    /// Moves the window on to `now`.
    mutating func advance(to now: Int64) {
        if windowStart == .min {
            windowStart = now
            return
        }
        guard now >= windowStart &+ Self.window else { return }
        let closedOne = now < windowStart &+ 2 &* Self.window
        if closedOne, attempts >= 2 * Self.minFailures {
            baseline = 0.8 * baseline + 0.2 * min(1, Double(temporary) / Double(attempts))
        }
        previousAttempts = closedOne ? attempts : 0
        previousTemporary = closedOne ? temporary : 0
        previousPermanent = closedOne ? permanent : 0
        attempts = 0
        temporary = 0
        permanent = 0
        refusedRecipients.removeAll(keepingCapacity: true)
        windowStart = closedOne ? windowStart &+ Self.window : now
    }

    /// A count over the sliding window: the current window's, and the previous one's
    /// share that still overlaps.
    func sliding(_ current: Int, _ previous: Int, now: Int64) -> Double {
        let elapsed = Double(max(0, now &- windowStart)) / Double(Self.window)
        return Double(current) + Double(previous) * max(0, 1 - elapsed)
    }

    /// An attempt left on the pair.
    mutating func recordAttempt(now: Int64) {
        advance(to: now)
        attempts &+= 1
        totalAttempts &+= 1
    }

    /// A refusal came back: the signal it completes, if any.
    /// - Parameters:
    ///   - failedAttempts: the message's failed attempts before this one.
    ///   - recipient: a key of the recipient (nil: each refusal is another recipient).
    mutating func observe(_ classification: ReplyClassification, failedAttempts: Int, recipient: Int?, now: Int64) -> PairSignal? {
        advance(to: now)
        totalRefusals &+= 1
        switch classification.replyClass {
        case .temporary, .throttle:
            // A throttle of the pair acts by itself; one of the connections only (a
            // congested receiver read as a connection limit) counts as a failure here.
            if classification.replyClass == .throttle, classification.scope == .ip { return nil }
            // The sender's setup and a session's message count are acted on elsewhere
            // (the authentication watch; fewer messages per connection).
            guard classification.scope != .sender, classification.scope != .session,
                  !(classification.reason == .greylisted && failedAttempts == 0) else { return nil }
            temporary &+= 1
            let failures = sliding(temporary, previousTemporary, now: now)
            let share = failures / max(failures, sliding(attempts, previousAttempts, now: now))
            guard failures >= Double(Self.minFailures), share >= Self.failureShare, share >= Self.baselineFactor * baseline else { return nil }
            reset()
            return .congestion
        case .permanentMessage, .permanentPolicy:
            // Permanent classes are 5xx replies only (`ReplyClassifier.guarded`).
            guard classification.scope != .sender, classification.scope != .ip else { return nil }
            if let recipient {
                if refusedRecipients.contains(recipient) { return nil }
                if refusedRecipients.count >= 4 * Self.minFailures { refusedRecipients.removeFirst() }
                refusedRecipients.append(recipient)
            }
            permanent &+= 1
            let refused = sliding(permanent, previousPermanent, now: now)
            let share = refused / max(refused, sliding(attempts, previousAttempts, now: now))
            // Mail was taken here before: a provider refusing everything from the start
            // (a domain that takes no mail, a relay denied) is not blocking this IP.
            let tookMail = totalAttempts - totalRefusals >= Self.minFailures
            guard refused >= Double(Self.minFailures), share >= Self.failureShare, tookMail else { return nil }
            reset()
            return .block
        default:
            return nil
        }
    }

    /// A throttle of the pair arrived at `now` (the pair not resting): whether it is the
    /// `escalateAfter`-th in a row to come within `clearance` of the end of a rest.
    mutating func throttled(now: Int64) -> Bool {
        if restEnd != .min, now >= restEnd, now - restEnd <= Self.clearance {
            failedRests += 1
        } else if restEnd == .min || now > restEnd {
            failedRests = 0
        }
        guard failedRests >= Self.escalateAfter else { return false }
        failedRests = 0
        restEnd = .min
        return true
    }

    /// The pair rests until `until` after a throttle.
    mutating func rested(until: Int64) { restEnd = until }

    /// After a signal: the window starts afresh (its failures were acted on).
    mutating func reset() {
        temporary = 0
        previousTemporary = 0
        permanent = 0
        previousPermanent = 0
        refusedRecipients.removeAll(keepingCapacity: true)
    }
}
