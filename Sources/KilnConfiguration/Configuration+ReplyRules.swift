import Foundation
import KilnCore

extension Configuration {
    /// One operator reply rule, as written in `replyRules`:
    ///
    /// ```json
    /// "replyRules": [{"provider": "yahoo", "match": "TSS04", "action": "throttle"},
    ///                {"match": "5\\.7\\.515", "action": "pauseConfigurationSet"},
    ///                {"provider": "gmail", "match": "4\\.7\\.28", "action": "suspend", "forMinutes": 30}]
    /// ```
    ///
    /// | key | meaning |
    /// | --- | --- |
    /// | `match` | a regular expression (ICU syntax, case-insensitive) searched in the whole reply: code, enhanced status, text |
    /// | `provider` | optional: only replies from this provider id (`gmail`, `yahoo`, `mx:example.net`, ...) |
    /// | `action` | `throttle`, `suspend`, `temporary`, `bounce`, `suppress` or `pauseConfigurationSet` (see `OperatorReplyRule.Action`) |
    /// | `forMinutes` | with `suspend` only, required: how long the (IP, provider) pair rests, 1 to 10,080 minutes |
    public struct ReplyRuleEntry: Codable, Sendable, Equatable {
        public var provider: String?
        public var match: String
        public var action: String
        public var forMinutes: Double?

        public init(provider: String? = nil, match: String, action: String, forMinutes: Double? = nil) {
            self.provider = provider
            self.match = match
            self.action = action
            self.forMinutes = forMinutes
        }
    }

    /// The longest `suspend` an operator rule may ask for: a week, in minutes.
    public static let maxSuspendMinutes = 10_080.0

    /// Every problem in `replyRules`, each with its JSON path (`replyRules[1].match`).
    func replyRuleProblems() -> [ConfigurationProblem] {
        var problems: [ConfigurationProblem] = []
        for (i, entry) in (replyRules ?? []).enumerated() {
            let path = "replyRules[\(i)]"
            if let provider = entry.provider, !MailboxProvider.isConfigurable(provider) {
                problems.append(ConfigurationProblem(path: "\(path).provider", message: "unknown provider '\(provider.escapingControlCharacters)': \(MailboxProvider.configurableDescription)"))
            }
            if entry.match.isEmpty {
                problems.append(ConfigurationProblem(path: "\(path).match", message: "must not be empty"))
            } else {
                do {
                    _ = try NSRegularExpression(pattern: entry.match, options: [.caseInsensitive])
                } catch {
                    problems.append(ConfigurationProblem(path: "\(path).match", message: "not a valid regular expression: '\(entry.match.escapingControlCharacters)'"))
                }
            }
            guard let action = OperatorReplyRule.Action(rawValue: entry.action) else {
                problems.append(ConfigurationProblem(path: "\(path).action", message: "expected one of " + OperatorReplyRule.Action.allCases.map(\.rawValue).joined(separator: ", ")))
                continue
            }
            if action == .suspend {
                if let minutes = entry.forMinutes {
                    if !(minutes >= 1 && minutes <= Self.maxSuspendMinutes) {
                        problems.append(ConfigurationProblem(path: "\(path).forMinutes", message: "must be from 1 to \(Int(Self.maxSuspendMinutes)) minutes"))
                    }
                } else {
                    problems.append(ConfigurationProblem(path: "\(path).forMinutes", message: "required with action suspend"))
                }
            } else if entry.forMinutes != nil {
                problems.append(ConfigurationProblem(path: "\(path).forMinutes", message: "only with action suspend"))
            }
        }
        return problems
    }

    /// The reply classifier with the operator rules compiled (the configuration is
    /// validated at load, so every rule compiles; a rule that does not is left out).
    public var replyClassifier: ReplyClassifier {
        var rules: [OperatorReplyRule] = []
        for (i, entry) in (replyRules ?? []).enumerated() {
            guard let action = OperatorReplyRule.Action(rawValue: entry.action),
                  let rule = try? OperatorReplyRule(id: "replyRules[\(i)]", provider: entry.provider, match: entry.match, action: action,
                                                    forMinutes: entry.forMinutes) else { continue }
            rules.append(rule)
        }
        return ReplyClassifier(operatorRules: rules)
    }
}
