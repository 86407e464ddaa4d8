import Foundation
import KilnCore
import KilnFeedback
import Testing

/// The held-out protocol for reply reading: the corpus's real rejections, split by the
/// system that wrote them (the file name's MTA or provider) into two halves by a fixed
/// hash, each scored by the action its reply calls for. The reply table was written from
/// providers' documentation and MTAs' wordings, not from this corpus; the halves show how
/// far the score depends on which systems are in it, and the `unplaced` share how often
/// only the structure (code, status, safe default) decided.
@Suite struct HeldOutReplyReadingTests {
    /// What a reply calls for.
    enum Action: String {
        /// The address is bad: bounce and suppress.
        case suppress
        /// This message fails; the IP and the recipient are not at fault.
        case bounce
        /// Protect the IP: slow or suspend the (IP, provider) pair.
        case protect
        /// The sending setup (authentication, sender address).
        case sender
        /// Retry later; nobody is at fault.
        case retry
    }

    /// sisimai's reason → the action it calls for; nil for reasons that are not about the
    /// reading of a refusal (expiry, delivered, auto-replies, unknown).
    static func expectedAction(_ reason: String) -> Action? {
        switch reason {
        case "userunknown", "hostunknown", "hasmoved", "notaccept": .suppress
        case "mailboxfull", "suspend", "mesgtoobig", "contenterror", "spamdetected", "virusdetected", "filtered", "notcompliantrfc",
             "exceedlimit", "norelaying", "syntaxerror": .bounce
        case "blocked", "badreputation", "requireptr", "speeding", "toomanyconn", "policyviolation": .protect
        case "authfailure", "rejected": .sender
        case "systemerror", "networkerror", "systemfull": .retry
        default: nil
        }
    }

    /// Kiln's reading → its action.
    static func action(_ c: ReplyClassification) -> Action {
        switch (c.replyClass, c.scope) {
        case (.permanentUser, _): .suppress
        case (.permanentMessage, _), (.permanentPolicy, .message): .bounce
        case (.permanentPolicy, .ip), (.throttle, _): .protect
        case (_, .sender): .sender
        case (.permanentPolicy, _): .bounce
        default: .retry
        }
    }

    /// Half 0 or 1 of the source (`lhost-postfix-12.eml` → `lhost-postfix`).
    static func half(_ file: String) -> Int {
        let source = file.split(separator: "-").dropLast().joined(separator: "-")
        return Int(source.utf8.reduce(UInt32(2_166_136_261)) { ($0 ^ UInt32($1)) &* 16_777_619 } % 2)
    }

    struct Score: CustomStringConvertible {
        var rows = 0
        var right = 0
        var unplaced = 0
        /// Replies that called for protecting the IP and were read as anything else: the
        /// dangerous mistake.
        var unprotected = 0
        var wrong: [String] = []
        var share: Double { rows == 0 ? 0 : Double(right) / Double(rows) }
        var description: String {
            String(format: "%d/%d = %.3f right, %d decided by structure alone, %d IP-protecting replies missed", right, rows, share, unplaced, unprotected)
        }
    }

    static func scores() throws -> [Score] {
        guard let corpus = CorpusTests.corpus else { return [] }
        var scores = [Score(), Score()]
        // KILN_HELD_OUT_DUMP=FILE writes each row (half, action, file, reply) for scoring
        // another build's reading with `kiln reply classify --stdin --json`.
        var dump: [String] = []
        defer {
            if let path = ProcessInfo.processInfo.environment["KILN_HELD_OUT_DUMP"] {
                FileManager.default.createFile(atPath: path, contents: Data((dump.joined(separator: "\n") + "\n").utf8))
            }
        }
        var reports: [String: FeedbackReport] = [:]
        for expected in try CorpusTests.expectations(in: corpus) where expected.kind == "hard" || expected.kind == "soft" {
            guard let want = expectedAction(expected.reason) else { continue }
            let report = try reports[expected.file] ?? FeedbackClassifier.classify(Array(Data(contentsOf: corpus.appendingPathComponent(expected.file))))
            reports[expected.file] = report
            guard expected.index <= report.recipients.count else { continue }
            let recipient = report.recipients[expected.index - 1]
            guard let diagnostic = recipient.diagnostic, !diagnostic.isEmpty else { continue }
            let code = recipient.replyCode ?? (recipient.status?.hasPrefix("4") == true ? 451 : 550)
            let line = "\(code) \(recipient.status.map { $0 + " " } ?? "")\(diagnostic)"
            guard let reply = SMTPReply(parsing: line) else { continue }
            let reading = reply.classification
            let got = action(reading)
            let h = half(expected.file)
            dump.append("\(h)\t\(want.rawValue)\t\(expected.file)\t\(line.split(whereSeparator: { $0 == "\t" || $0.isNewline }).joined(separator: " "))")
            scores[h].rows += 1
            if ["status", "fallback"].contains(reading.rule) || reading.rule.hasSuffix("+pair") { scores[h].unplaced += 1 }
            if got == want || (want == .retry && got == .protect) {
                scores[h].right += 1
            } else {
                if want == .protect { scores[h].unprotected += 1 }
                scores[h].wrong.append("\(expected.file)#\(expected.index) \(expected.reason) → \(reading.replyClass.rawValue)/\(reading.scope.rawValue) (\(reading.rule)): \(line.prefix(100))")
            }
        }
        return scores
    }

    @Test(.enabled(if: CorpusTests.corpus != nil, "the corpus is in Tests/Corpora/bounces"))
    func bothHalvesAreReadForTheRightActionAndNoIPProtectingReplyIsMissed() async throws {
        let scores = try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try Self.scores() }) }.start()
        }
        for (index, score) in scores.enumerated() {
            print("held-out reply reading, half \(index): \(score)")
            for line in score.wrong { print("  wrong: \(line)") }
        }
        #expect(scores.count == 2)
        // Floors under what was measured when the safe default came in (0.73 and 0.64; the
        // README reports the figures): a regression in either half fails here.
        for score in scores {
            #expect(score.rows >= 40)
            #expect(score.share >= 0.6, "\(score)")
        }
        // The dangerous mistake (a reply that calls for protecting the IP, read as
        // something else) stays under one in ten of the rows.
        let rows = scores.reduce(0) { $0 + $1.rows }
        #expect(scores.reduce(0) { $0 + $1.unprotected } * 10 <= rows)
    }
}

/// One vocabulary: the same status and text give the same reason whether they arrive as an
/// SMTP reply or inside a bounce report.
@Suite struct OneVocabularyTests {
    @Test(arguments: [
        ("550", "5.1.10", "Recipient address has null MX"),
        ("550", "5.1.1", "The email account that you tried to reach does not exist."),
        ("552", "5.2.2", "The email account that you tried to reach is over quota."),
        ("550", "5.7.1", "Service unavailable; Client host [192.0.2.10] blocked using zen.spamhaus.org"),
        ("550", "5.7.26", "This mail has been blocked because the sender is unauthenticated."),
        ("421", "4.7.0", "Too many connections from your IP"),
        ("554", "5.7.1", "Message rejected because it contains a virus"),
        ("552", "5.3.4", "Message size exceeds fixed maximum message size"),
        ("550", "5.7.25", "Reverse DNS validation failed"),
        ("451", "4.7.1", "Greylisted, please try again later"),
        ("550", "5.1.6", "Recipient mailbox has moved"),
    ])
    func aReplyAndABounceReportGiveTheSameReason(_ code: String, _ status: String, _ text: String) throws {
        let reply = try #require(SMTPReply(parsing: "\(code) \(status) \(text)"))
        let asReply = reply.classification.reason
        let asReport = BounceReason.classify(diagnostic: text, status: status, replyCode: Int(code), command: .rcpt)
        #expect(asReply == asReport, "reply: \(asReply.rawValue), report: \(asReport.rawValue)")
    }

    @Test(.enabled(if: CorpusTests.corpus != nil, "the corpus is in Tests/Corpora/bounces"))
    func theCorpusReportsAgreeWithTheirRepliesWhereTheTableDecides() throws {
        let corpus = CorpusTests.corpus!
        var compared = 0, agreed = 0
        var differences: [String] = []
        for expected in try CorpusTests.expectations(in: corpus) where expected.kind == "hard" || expected.kind == "soft" {
            let report = FeedbackClassifier.classify(Array(try Data(contentsOf: corpus.appendingPathComponent(expected.file))))
            guard expected.index <= report.recipients.count else { continue }
            let r = report.recipients[expected.index - 1]
            guard let diagnostic = r.diagnostic, let code = r.replyCode, let status = r.status,
                  ReplyClassifier.specificReading(code: code, status: status, text: diagnostic) != nil,
                  let reply = SMTPReply(parsing: "\(code) \(status) \(diagnostic)") else { continue }
            let decided = BounceReason.classify(diagnostic: diagnostic, status: status, replyCode: code, command: .rcpt)
            compared += 1
            if decided == reply.classification.reason { agreed += 1 } else {
                differences.append("\(expected.file): report \(decided.rawValue), reply \(reply.classification.reason.rawValue) (\(reply.classification.rule)): \(diagnostic.prefix(90))")
            }
        }
        print("one vocabulary: \(agreed)/\(compared) corpus refusals read alike as report and as reply")
        for line in differences { print("  differs: \(line)") }
        #expect(compared >= 30)
        #expect(Double(agreed) >= 0.9 * Double(compared))
    }
}
