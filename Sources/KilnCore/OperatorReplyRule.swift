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

    /// The most of a reply an operator rule reads, in UTF-16 units.
    public static let inputLimit = 4096
    /// How long one rule may search one reply: a pattern that backtracks without end
    /// (`(a+)+$` on a long run of `a`) gives up there and counts as no match.
    public static let timeLimit: Duration = .milliseconds(50)

    /// Whether the rule applies to `whole` (the reply as written: code, status, text): its
    /// first 4 KB, searched for at most `timeLimit`.
    public func matches(_ whole: String, provider: String?) -> Bool {
        if let own = self.provider, own != provider { return false }
        let text = whole.utf16.count > Self.inputLimit ? String(whole.prefix(Self.inputLimit)) : whole
        let deadline = ContinuousClock.now + Self.timeLimit
        var found = false
        // `.reportProgress` calls back while a search runs: a search past its time stops.
        regex.expression.enumerateMatches(in: text, options: [.reportProgress], range: NSRange(text.startIndex..., in: text)) { match, _, stop in
            // A progress call may come with a result whose range is NSNotFound: not a match.
            if let match, match.range.location != NSNotFound {
                found = true
                stop.pointee = true
            } else if ContinuousClock.now > deadline {
                stop.pointee = true
            }
        }
        return found
    }

    /// A warning for a pattern whose nested quantifiers can backtrack without end
    /// (`(a+)+`, `(a*)*`, `(\\w+\\s?)*`): nil when none is seen.
    public static func backtrackingWarning(_ pattern: String) -> String? {
        // A group whose body has a quantifier, itself quantified.
        let nested = #"\((?:[^()\\]|\\.)*[+*}](?:[^()\\]|\\.)*\)[+*{]"#
        guard pattern.range(of: nested, options: .regularExpression) != nil else { return nil }
        return "nested quantifiers can backtrack without end on a long reply; each reply is searched for at most \(timeLimit) (write the group without its inner + or *)"
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
