import Foundation

/// An operator's reply rule (`replyRules` in the configuration), compiled: a regular
/// expression on the whole reply (code, status and text; case-insensitive), an optional
/// provider, and what to do.
public struct OperatorReplyRule: Sendable {
    /// What an operator rule makes of a reply.
    ///
    /// | action | class | scope | the engine |
    /// |---|---|---|---|
    /// | `throttle` | throttle | ip | slows the (IP, provider) pair, retries the message |
    /// | `suspend` | throttle | ip | rests the pair for `forMinutes`, level unchanged; retries the message |
    /// | `temporary` | temporary | message | retries the message with backoff |
    /// | `bounce` | permanent-message | message | bounces the message, keeps the recipient |
    /// | `suppress` | permanent-user | recipient | bounces and suppresses the recipient |
    /// | `pauseConfigurationSet` | permanent-policy | sender | pauses the message's configuration set; the message waits |
    public enum Action: String, Sendable, Codable, CaseIterable {
        case throttle, suspend, temporary, bounce, suppress, pauseConfigurationSet
    }

    /// `replyRules[i]`: where the rule is in the configuration, and the rule id it reports.
    public let id: String
    public let provider: String?
    public let action: Action
    public let suspension: Duration?
    let regex: Pattern

    /// NSRegularExpression is immutable once made and safe to share across threads.
    struct Pattern: @unchecked Sendable {
        let expression: NSRegularExpression
    }

    /// Compiles a rule; throws the regular expression's error for a bad `match`.
    public init(id: String, provider: String?, match: String, action: Action, forMinutes: Double? = nil) throws {
        self.id = id
        self.provider = provider
        self.action = action
        suspension = forMinutes.map { .seconds($0 * 60) }
        regex = Pattern(expression: try NSRegularExpression(pattern: match, options: [.caseInsensitive]))
    }

    /// Whether the rule applies to `whole` (the reply as written: code, status, text).
    public func matches(_ whole: String, provider: String?) -> Bool {
        if let own = self.provider, own != provider { return false }
        return regex.expression.firstMatch(in: whole, range: NSRange(whole.startIndex..., in: whole)) != nil
    }

    public var classification: ReplyClassification {
        switch action {
        case .throttle: ReplyClassification(.throttle, scope: .ip, reason: .operatorRule, rule: id)
        case .suspend: ReplyClassification(.throttle, scope: .ip, reason: .operatorRule, rule: id, suspension: suspension)
        case .temporary: ReplyClassification(.temporary, scope: .message, reason: .operatorRule, rule: id)
        case .bounce: ReplyClassification(.permanentMessage, scope: .message, reason: .operatorRule, rule: id)
        case .suppress: ReplyClassification(.permanentUser, scope: .recipient, reason: .operatorRule, rule: id)
        case .pauseConfigurationSet:
            ReplyClassification(.permanentPolicy, scope: .sender, reason: .operatorRule, rule: id, pausesConfigurationSet: true)
        }
    }
}
