/// What a reply means for the engine.
public enum ReplyClass: String, Sendable, Codable, CaseIterable {
    /// Accepted.
    case success
    /// The provider wants less traffic from this IP now (rate, volume, connections).
    /// Slows the (IP, provider) pair at once and lowers its warm-up.
    case throttle
    /// Any other transient failure (greylisting, a timeout, a full queue): retry later.
    case temporary
    /// The address itself is bad (does not exist, moved, disabled): a hard bounce; the
    /// recipient is suppressed.
    case permanentUser = "permanent-user"
    /// A policy rejection (block list, reputation, authentication, content): never the
    /// recipient's fault, never suppresses the recipient; blocks the IP for the provider.
    case permanentPolicy = "permanent-policy"
    /// This message cannot be delivered (too large, bad syntax, mailbox full): it bounces,
    /// the recipient stays, the IP is not blamed.
    case permanentMessage = "permanent-message"
}

/// What a reply is about: whom a retry or a slow-down applies to.
public enum ReplyScope: String, Sendable, Codable, CaseIterable {
    case recipient, message
    /// The (IP, provider) pair: throttles and blocks.
    case ip
    /// The connection only (a dropped or refused connection, too many connections).
    case connection
}

public struct ReplyClassification: Hashable, Sendable {
    public var replyClass: ReplyClass
    public var scope: ReplyScope
    public init(_ replyClass: ReplyClass, scope: ReplyScope) {
        self.replyClass = replyClass
        self.scope = scope
    }
}

extension SMTPReply {
    /// Classifies the reply: the enhanced status decides first, text patterns second
    /// (the patterns, with real provider strings, are in `ReplyPatterns`).
    ///
    /// | reply | class | scope |
    /// |---|---|---|
    /// | `250 2.0.0 OK` | success | message |
    /// | `421 4.7.28 ... unusual rate of unsolicited mail` | throttle | ip |
    /// | `451 4.7.500 Server busy` | throttle | ip |
    /// | `450 4.2.1 ... rate that prevents additional messages` | throttle | ip |
    /// | `451 4.7.1 Greylisted` | temporary | message |
    /// | `550 5.1.1 user unknown` | permanent-user | recipient |
    /// | `550 5.7.1 ... blocked using Spamhaus` | permanent-policy | ip |
    /// | `552 5.3.4 Message size exceeds` | permanent-message | message |
    public var classification: ReplyClassification {
        if isPositive { return ReplyClassification(.success, scope: .message) }
        let lowered = text.lowercased()
        if isTransient { return Self.classifyTransient(code: code, status: enhancedStatus, text: lowered, isLocal: isLocal) }
        return Self.classifyPermanent(status: enhancedStatus, text: lowered)
    }

    private static func classifyTransient(code: Int, status: String?, text: String, isLocal: Bool) -> ReplyClassification {
        if isLocal { return ReplyClassification(.temporary, scope: .connection) }
        if let status, ReplyPatterns.throttleStatuses.contains(status) {
            return ReplyClassification(.throttle, scope: .ip)
        }
        if ReplyPatterns.greylisting.contains(where: text.contains) {
            return ReplyClassification(.temporary, scope: .message)
        }
        if ReplyPatterns.throttleText.contains(where: text.contains) {
            return ReplyClassification(.throttle, scope: .ip)
        }
        if ReplyPatterns.connectionThrottleText.contains(where: text.contains) {
            return ReplyClassification(.throttle, scope: .connection)
        }
        // A transient security/policy status that is not greylisting is a reputation
        // deferral (Yahoo's 4.7.0 [TSS04], Apple's 4.7.0 [CS01]): slow down.
        if let status, status.hasPrefix("4.7.") {
            return ReplyClassification(.throttle, scope: .ip)
        }
        if let status, status.hasPrefix("4.2.2") || status.hasPrefix("4.1.") {
            return ReplyClassification(.temporary, scope: .recipient)
        }
        return ReplyClassification(.temporary, scope: code == 421 ? .connection : .message)
    }

    private static func classifyPermanent(status: String?, text: String) -> ReplyClassification {
        if let status {
            let parts = status.split(separator: ".")
            let subject = parts.count > 1 ? parts[1] : ""
            if ReplyPatterns.userStatuses.contains(status) {
                // Some receivers answer 5.1.1 for what is a policy block; the text tells.
                if ReplyPatterns.policyText.contains(where: text.contains),
                   !ReplyPatterns.userText.contains(where: text.contains) {
                    return ReplyClassification(.permanentPolicy, scope: .ip)
                }
                return ReplyClassification(.permanentUser, scope: .recipient)
            }
            if subject != "7", ReplyPatterns.userText.contains(where: text.contains) {
                return ReplyClassification(.permanentUser, scope: .recipient)
            }
            switch subject {
            case "7":
                return ReplyClassification(.permanentPolicy, scope: .ip)
            case "3", "5", "6":
                return ReplyClassification(.permanentMessage, scope: .message)
            case "2":
                return ReplyClassification(.permanentMessage, scope: .recipient)
            default:
                break
            }
        }
        if ReplyPatterns.userText.contains(where: text.contains) {
            return ReplyClassification(.permanentUser, scope: .recipient)
        }
        if ReplyPatterns.policyText.contains(where: text.contains) {
            return ReplyClassification(.permanentPolicy, scope: .ip)
        }
        return ReplyClassification(.permanentMessage, scope: .message)
    }
}
