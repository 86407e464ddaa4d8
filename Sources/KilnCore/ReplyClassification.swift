/// What a reply means for the engine.
public enum ReplyClass: String, Sendable, Codable, CaseIterable {
    /// Accepted.
    case success
    /// The provider wants less traffic from this IP now (rate, volume, connections).
    /// Slows the (IP, provider) pair at once and lowers its warm-up; with scope
    /// `connection`, lowers the provider's connections instead.
    case throttle
    /// Any other transient failure (greylisting, a timeout, a full queue, a recipient that
    /// receives too fast, a session's message limit): retry later.
    case temporary
    /// The address itself is bad (does not exist, moved, disabled): a hard bounce; the
    /// recipient is suppressed.
    case permanentUser = "permanent-user"
    /// A policy rejection (block list, reputation, the sender's authentication): never the
    /// recipient's fault, never suppresses the recipient; with scope `ip`, blocks the IP
    /// for the provider.
    case permanentPolicy = "permanent-policy"
    /// This message cannot be delivered (too large, spam content, mailbox full): it
    /// bounces, the recipient stays, the IP is not blamed.
    case permanentMessage = "permanent-message"
}

/// What a reply is about: whom a retry or a slow-down applies to.
public enum ReplyScope: String, Sendable, Codable, CaseIterable {
    case recipient, message
    /// The (IP, provider) pair: throttles and blocks.
    case ip
    /// The connection only (a dropped or refused connection, too many connections).
    case connection
    /// The number of messages or recipients on one connection: reconnect, and send fewer
    /// messages per connection to that provider.
    case session
    /// The sending domain or the envelope sender (SPF, DKIM, DMARC, a refused sender
    /// address): a misconfiguration of ours; neither the IP nor the recipient is blamed.
    case sender
}

/// A reply's meaning: class, scope, the reason (sisimai-style name) and the rule that
/// decided it.
public struct ReplyClassification: Hashable, Sendable {
    public var replyClass: ReplyClass
    public var scope: ReplyScope
    public var reason: ReplyReason
    /// The id of the rule that decided: a `ReplyRules` id, `replyRules[i]` for an
    /// operator rule, `status` (RFC 3463 by the enhanced status), `fallback` (the reply
    /// code alone), `success` or `local` (a failure Kiln met before any reply).
    public var rule: String
    /// For an operator rule's `suspend`: how long the (IP, provider) pair rests.
    public var suspension: Duration?
    /// For an operator rule's `pauseConfigurationSet`: the message's configuration set is paused.
    public var pausesConfigurationSet: Bool

    public init(_ replyClass: ReplyClass, scope: ReplyScope, reason: ReplyReason = .undefined, rule: String = "",
                suspension: Duration? = nil, pausesConfigurationSet: Bool = false) {
        self.replyClass = replyClass
        self.scope = scope
        self.reason = reason
        self.rule = rule
        self.suspension = suspension
        self.pausesConfigurationSet = pausesConfigurationSet
    }
}

extension SMTPReply {
    /// The built-in table's reading (`ReplyRules`), provider unknown, without the operator
    /// rules: for the table's own documentation and tests. Delivery reads every reply
    /// through the Dispatcher's `ReplyReader` (operator rules, then this table).
    ///
    /// | reply | class | scope | reason |
    /// |---|---|---|---|
    /// | `250 2.0.0 OK` | success | message | accepted |
    /// | `421 4.7.28 ... unusual rate of unsolicited mail` | throttle | ip | ratelimited |
    /// | `550 Ip frequency limited` (QQ) | throttle | ip | ratelimited |
    /// | `450 4.2.1 ... receiving mail too quickly` | temporary | recipient | recipientrate |
    /// | `421 4.7.0 Too many connections` | throttle | connection | toomanyconn |
    /// | `452 4.5.3 too many recipients this session` | temporary | session | sessionlimit |
    /// | `550 5.7.26 ... DMARC policy` | permanent-policy | sender | authfailure |
    /// | `451 4.7.1 Greylisted` | temporary | message | greylisted |
    /// | `550 5.1.1 user unknown` | permanent-user | recipient | userunknown |
    /// | `550 5.7.1 ... blocked using Spamhaus` | permanent-policy | ip | blocked |
    /// | `552 5.3.4 Message size exceeds` | permanent-message | message | mesgtoobig |
    public var classification: ReplyClassification { ReplyClassifier.builtIn.classify(self, provider: nil) }

    /// As `classification`, for a reply from a known provider (provider-specific rules of
    /// other providers are skipped); still without the operator rules.
    public func classification(provider: MailboxProvider?) -> ReplyClassification {
        ReplyClassifier.builtIn.classify(self, provider: provider)
    }
}

/// Reads replies: operator rules first (from `replyRules` in the configuration), then the
/// built-in table, then the enhanced status by RFC 3463, then the code. Two promises hold
/// for the built-in answers: a 4xx reply is never `permanent-*`, and an X.7.x reply is
/// never `permanent-user`.
public struct ReplyClassifier: Sendable {
    /// Checked before the built-in table, in order.
    public var operatorRules: [OperatorReplyRule]

    public init(operatorRules: [OperatorReplyRule] = []) {
        self.operatorRules = operatorRules
    }

    public static let builtIn = ReplyClassifier()

    public func classify(_ reply: SMTPReply, provider: MailboxProvider?) -> ReplyClassification {
        if reply.isPositive { return ReplyClassification(.success, scope: .message, reason: .accepted, rule: "success") }
        if reply.isLocal, reply.isTransient {
            return ReplyClassification(.temporary, scope: .connection, reason: .networkError, rule: "local")
        }
        let whole = reply.description
        for rule in operatorRules where rule.matches(whole, provider: provider?.id) {
            return rule.classification
        }
        let result = Self.classifyBuiltIn(code: reply.code, status: reply.enhancedStatus ?? SMTPReply.findStatus(in: reply.text, code: reply.code),
                                          lowered: Array(whole.lowercased().utf8), provider: provider?.id)
        if reply.isLocal, result.scope == .sender {
            // An envelope sender Kiln itself refuses to send: no retry will change it.
            return ReplyClassification(.permanentMessage, scope: .message, reason: .rejected, rule: "local")
        }
        return result
    }

    /// The built-in answer for a failure reply (code 400 and above).
    static func classifyBuiltIn(code: Int, status: String?, lowered: [UInt8], provider: String?) -> ReplyClassification {
        var result: ReplyClassification
        if let rule = firstRule(code: code, status: status, lowered: lowered, provider: provider) {
            result = ReplyClassification(rule.replyClass, scope: rule.scope, reason: rule.reason, rule: rule.id)
        } else if let status, let byStatus = byStatus(status) {
            result = byStatus
        } else {
            result = byCode(code)
        }
        result = guarded(result, code: code, status: status)
        if code >= 500, result.replyClass == .throttle, result.scope == .ip,
           ReplyRules.blockList.matches(code: code, status: status, lowered: lowered, provider: provider) {
            // A 5xx that says the IP is blocked is a block, even when it also names a rate
            // (Gmail's 550 5.7.28 "unusual rate ... has been blocked").
            return ReplyClassification(.permanentPolicy, scope: .ip, reason: .blocked, rule: result.rule + "+blocked")
        }
        if (400..<500).contains(code), result.replyClass == .temporary, !isPlaced(result) {
            if let status, status.hasPrefix("4.1.") || status.hasPrefix("4.2.") {
                // Vague words, but the status's subject is the recipient's address or mailbox.
                return ReplyClassification(.temporary, scope: .recipient, reason: result.reason, rule: result.rule + "+status")
            }
            // The safe default: a 4xx that no rule placed on one recipient, one message, the
            // session or the sender slows the pair, whatever its words.
            return ReplyClassification(.throttle, scope: .ip, reason: result.reason, rule: result.rule + "+pair")
        }
        return result
    }

    /// Whether a temporary reading puts the failure on something other than the (IP,
    /// provider) pair: one recipient (greylisting is per message), the message itself,
    /// the session's count, the sender's setup, or the number of connections. A system
    /// error, a network error, a policy or nothing at all is not placed.
    static func isPlaced(_ c: ReplyClassification) -> Bool {
        switch c.scope {
        case .recipient, .session, .sender, .ip: true
        case .connection: c.reason == .tooManyConnections || c.reason == .failedStartTLS
        case .message:
            switch c.reason {
            case .greylisted, .messageTooBig, .spamDetected, .virusDetected, .contentError, .expired, .noRelaying, .syntaxError: true
            default: false
            }
        }
    }

    /// The table's first rule that matches, in order.
    static func firstRule(code: Int, status: String?, lowered: [UInt8], provider: String?) -> ReplyRule? {
        ReplyRules.all.first { $0.matches(code: code, status: status, lowered: lowered, provider: provider) }
    }

    /// The built-in table's reading of a refusal by one of its specific rules (not a vague
    /// phrase, not the status or the code alone), or nil: what a bounce report's
    /// diagnostic shares with an SMTP reply, so both get the same reason.
    public static func specificReading(code: Int, status: String?, text: String) -> ReplyClassification? {
        let lowered = Array("\(code) \(text)".lowercased().utf8)
        guard let rule = firstRule(code: code, status: status, lowered: lowered, provider: nil), !rule.vague else {
            return nil
        }
        return guarded(ReplyClassification(rule.replyClass, scope: rule.scope, reason: rule.reason, rule: rule.id), code: code, status: status)
    }

    /// The promises: a 4xx reply is never permanent (a permanent-policy of the IP becomes
    /// a throttle, the others temporary, same scope); an X.7.x reply never says the
    /// address is bad (the message bounces, the recipient stays); an X.1.7 or X.1.8 reply
    /// (the sender's address) never either.
    static func guarded(_ classification: ReplyClassification, code: Int, status: String?) -> ReplyClassification {
        var c = classification
        if (400..<500).contains(code) {
            switch c.replyClass {
            case .permanentPolicy: c.replyClass = c.scope == .ip ? .throttle : .temporary
            case .permanentUser, .permanentMessage: c.replyClass = .temporary
            default: break
            }
        }
        if c.replyClass == .permanentUser, let status {
            let parts = status.split(separator: ".")
            if parts.count == 3, parts[1] == "7" {
                c.replyClass = .permanentMessage
            } else if parts.count == 3, parts[1] == "1", parts[2] == "7" || parts[2] == "8" {
                c = ReplyClassification(.permanentPolicy, scope: .sender, reason: .rejected, rule: c.rule)
            }
        }
        return c
    }

    /// RFC 3463 §3 by subject: X.1 addressing, X.2 mailbox, X.3 mail system, X.4 network
    /// and routing, X.5 protocol, X.6 content, X.7 security and policy.
    static func byStatus(_ status: String) -> ReplyClassification? {
        let parts = status.split(separator: ".")
        guard parts.count == 3 else { return nil }
        let transient = parts[0] == "4"
        func c(_ k: ReplyClass, _ s: ReplyScope, _ r: ReplyReason) -> ReplyClassification { ReplyClassification(k, scope: s, reason: r, rule: "status") }
        switch (parts[1], parts[2]) {
        case ("1", "1"), ("1", "3"), ("1", "4"): return c(.permanentUser, .recipient, .userUnknown)
        case ("1", "2"): return c(.permanentUser, .recipient, .hostUnknown)
        case ("1", "6"): return c(.permanentUser, .recipient, .hasMoved)
        case ("1", "7"), ("1", "8"): return c(.permanentPolicy, .sender, .rejected)
        case ("1", _): return c(.permanentMessage, .recipient, .undefined)
        case ("2", "1"): return c(.permanentMessage, .recipient, .suspend)
        case ("2", "2"): return c(.permanentMessage, .recipient, .mailboxFull)
        case ("2", "3"): return c(.permanentMessage, .message, .messageTooBig)
        case ("2", _): return c(.permanentMessage, .recipient, .undefined)
        case ("3", "4"): return c(.permanentMessage, .message, .messageTooBig)
        case ("3", "2") where transient: return c(.temporary, .connection, .systemError)
        case ("3", _): return c(.permanentMessage, .message, .systemError)
        case ("4", "5") where transient: return c(.throttle, .connection, .tooManyConnections)
        case ("4", "7"): return c(.temporary, .message, .expired)
        case ("4", _) where transient: return c(.temporary, .connection, .networkError)
        case ("4", _): return c(.permanentMessage, .message, .networkError)
        case ("5", _): return c(.permanentMessage, .message, .syntaxError)
        case ("6", _): return c(.permanentMessage, .message, .contentError)
        case ("7", _): return c(.permanentPolicy, .ip, .policy)
        case ("0", _): return c(.permanentMessage, .message, .undefined)
        default: return nil
        }
    }

    /// RFC 5321 §4.2 by the code alone.
    static func byCode(_ code: Int) -> ReplyClassification {
        switch code {
        case 421: ReplyClassification(.temporary, scope: .connection, reason: .systemError, rule: "fallback")
        case 400..<500: ReplyClassification(.temporary, scope: .message, reason: .undefined, rule: "fallback")
        case 552: ReplyClassification(.permanentMessage, scope: .recipient, reason: .mailboxFull, rule: "fallback")
        default: ReplyClassification(.permanentMessage, scope: .message, reason: .undefined, rule: "fallback")
        }
    }
}
