import Foundation
import KilnFeedback
import Testing

/// The real bounces and complaints in Tests/Corpora/bounces (from the sisimai
/// project's test set), each with the answers sisimai's own tests expect.
@Suite struct CorpusTests {
    struct Expected {
        var file: String
        var index: Int
        var status: String
        var reason: String
        var hardBounce: Bool
        var kind: String
        var feedbackType: String
    }

    /// A copy lives in Tests/Corpora/bounces (BSD-2-Clause, its LICENSE beside it).
    static let corpus: URL? = {
        let copy = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../Corpora/bounces").standardized
        return FileManager.default.fileExists(atPath: copy.appendingPathComponent("expected.tsv").path) ? copy : nil
    }()

    static func expectations(in corpus: URL) throws -> [Expected] {
        let text = try String(contentsOf: corpus.appendingPathComponent("expected.tsv"), encoding: .utf8)
        return text.split(separator: "\n").dropFirst().map { line in
            let columns = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            return Expected(file: columns[0], index: Int(columns[1]) ?? 1, status: columns[2], reason: columns[4],
                            hardBounce: columns[5] == "1", kind: columns[6], feedbackType: columns.count > 8 ? columns[8] : "")
        }
    }

    struct Score {
        var rows = 0
        var hardAgreement = 0
        var complaintRows = 0
        var complaintAgreement = 0
        var wrong: [String] = []
    }

    static func score(_ corpus: URL) throws -> Score {
        var score = Score()
        var reports: [String: FeedbackReport] = [:]
        for expected in try expectations(in: corpus) {
            let report = try reports[expected.file] ?? {
                let data = try Data(contentsOf: corpus.appendingPathComponent(expected.file))
                return FeedbackClassifier.classify(Array(data))
            }()
            reports[expected.file] = report
            score.rows += 1
            let recipient = expected.index <= report.recipients.count ? report.recipients[expected.index - 1] : nil
            let permanent = recipient?.permanent ?? false
            if permanent == expected.hardBounce {
                score.hardAgreement += 1
            } else {
                score.wrong.append("\(expected.file)#\(expected.index): expected \(expected.reason) hard=\(expected.hardBounce), got \(recipient?.reason ?? "no recipient") \(recipient?.status ?? "") \(String((recipient?.diagnostic ?? "").prefix(120)))")
            }
            let isComplaint = report.type == .complaint
            if expected.kind == "complaint" || isComplaint {
                score.complaintRows += 1
                if isComplaint == (expected.kind == "complaint") { score.complaintAgreement += 1 } else {
                    score.wrong.append("\(expected.file): complaint expected \(expected.kind == "complaint"), got \(report.type.rawValue)")
                }
            }
        }
        return score
    }

    @Test(.enabled(if: corpus != nil, "the corpus is in Tests/Corpora/bounces"))
    func agreementWithSisimaiIsAtLeastNinetyFivePercent() async throws {
        // Hundreds of messages: on a thread of its own, not one of the cooperative pool's.
        let corpus = Self.corpus!
        let score = try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try Self.score(corpus) }) }.start()
        }
        let hard = Double(score.hardAgreement) / Double(score.rows)
        let complaints = Double(score.complaintAgreement) / Double(max(score.complaintRows, 1))
        print("hard-bounce agreement \(score.hardAgreement)/\(score.rows) = \(hard); complaint agreement \(score.complaintAgreement)/\(score.complaintRows)")
        for line in score.wrong { print("  wrong: \(line)") }
        #expect(score.rows > 300)
        #expect(hard >= 0.95)
        #expect(complaints >= 0.95)
    }

    @Test(.enabled(if: corpus != nil, "the corpus is in Tests/Corpora/bounces"))
    func everyComplaintCarriesItsFeedbackType() throws {
        let corpus = Self.corpus!
        for expected in try Self.expectations(in: corpus) where expected.kind == "complaint" && expected.index == 1 {
            let report = FeedbackClassifier.classify(Array(try Data(contentsOf: corpus.appendingPathComponent(expected.file))))
            #expect(report.type == .complaint, "\(expected.file)")
            #expect(report.feedbackType == expected.feedbackType, "\(expected.file)")
            #expect(!report.recipients.isEmpty, "\(expected.file)")
        }
    }
}
