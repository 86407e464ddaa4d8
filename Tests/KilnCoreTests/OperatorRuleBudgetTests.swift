import KilnCore
import Testing

/// An operator's regular expression cannot hold a transfer thread: a reply is read on its
/// first 4 KB, a search stops at its time limit, and nested quantifiers are warned of.
@Suite struct OperatorRuleBudgetTests {
    @Test func aBacktrackingPatternGivesUpWithinItsTimeLimit() throws {
        let rule = try OperatorReplyRule(id: "replyRules[0]", provider: nil, match: "(a+)+$", action: .bounce)
        // Under 4 KB, so the "!" that makes the search backtrack is read.
        let hostile = "550 " + String(repeating: "a", count: 3_000) + "!"
        let started = ContinuousClock.now
        let matched = rule.matches(hostile, provider: nil)
        let took = ContinuousClock.now - started
        #expect(!matched)
        // Far below the minutes the search would take; generous for a loaded machine.
        #expect(took < .seconds(5), "the search took \(took)")
    }

    @Test func anOrdinaryPatternStillMatches() throws {
        let rule = try OperatorReplyRule(id: "replyRules[0]", provider: "yahoo", match: "TSS0[0-9]", action: .throttle)
        #expect(rule.matches("421 4.7.0 [TSS04] Messages from 192.0.2.10 temporarily deferred", provider: "yahoo"))
        #expect(!rule.matches("421 4.7.0 [TSS04] deferred", provider: "gmail"))
        #expect(!rule.matches("250 OK", provider: "yahoo"))
    }

    @Test(arguments: [("(a+)+$", true), ("(\\w+\\s?)*x", true), ("(a*)*", true), ("(ab|cd){2,}", false), ("TSS0[0-9]", false), ("5\\.7\\.515", false)])
    func nestedQuantifiersAreWarnedOf(_ pattern: String, _ warned: Bool) {
        #expect((OperatorReplyRule.backtrackingWarning(pattern) != nil) == warned, "\(pattern)")
    }
}
