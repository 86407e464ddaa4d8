import Foundation
import KilnFeedback
import Testing

/// Reading feedback from files: an mbox split at its `From ` lines, a maildir's `new` and
/// `cur`, a JSON array, and reports over the limit skipped with their size.
@Suite struct FeedbackSourceTests {
    /// A fresh folder for one test.
    func folder() throws -> String {
        let path = NSTemporaryDirectory() + "kiln-feedback-source-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    func read(_ path: String, limit: Int = 1_000) async throws -> (reports: [String: String], skipped: [String: Int]) {
        var reports: [String: String] = [:]
        var skipped: [String: Int] = [:]
        try await FeedbackSource(limit: limit).forEach(at: path, skipped: { skipped[$0] = $1 }) { name, bytes in
            reports[name] = String(decoding: bytes, as: UTF8.self)
        }
        return (reports, skipped)
    }

    @Test func anMboxIsSplitAtItsFromLinesAndUnquoted() async throws {
        let path = try folder() + "/box.mbox"
        let text = "From a@example.com Mon Dec  7 00:00:00 2026\nSubject: one\n\n>From the start\n\n"
            + "From b@example.com Mon Dec  7 00:00:01 2026\nSubject: two\n\nbody\n"
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        let (reports, skipped) = try await read(path)
        #expect(skipped.isEmpty)
        #expect(reports == ["\(path):1": "Subject: one\n\nFrom the start\n\n", "\(path):6": "Subject: two\n\nbody\n"])
    }

    @Test func aReportOverTheLimitIsSkippedWithItsSize() async throws {
        let path = try folder() + "/box.mbox"
        let big = String(repeating: "x", count: 300)
        let text = "From a@example.com\nSubject: big\n\n\(big)\n\nFrom b@example.com\nSubject: small\n"
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        let (reports, skipped) = try await read(path, limit: 100)
        #expect(Array(reports.keys) == ["\(path):6"])
        #expect(skipped["\(path):1"].map { $0 > 300 } == true)
    }

    @Test func aMaildirIsReadFromNewAndCurAndAJSONArrayElementByElement() async throws {
        let root = try folder()
        for sub in ["new", "cur", "tmp"] { try FileManager.default.createDirectory(atPath: root + "/" + sub, withIntermediateDirectories: true) }
        try Data("Subject: new\n".utf8).write(to: URL(fileURLWithPath: root + "/new/1"))
        try Data("Subject: cur\n".utf8).write(to: URL(fileURLWithPath: root + "/cur/2"))
        try Data("Subject: tmp\n".utf8).write(to: URL(fileURLWithPath: root + "/tmp/3"))
        let maildir = try await read(root).reports
        #expect(maildir == [root + "/new/1": "Subject: new\n", root + "/cur/2": "Subject: cur\n"])
        let json = try folder() + "/notifications.json"
        try Data(#"[{"a": 1}, {"b": 2}]"#.utf8).write(to: URL(fileURLWithPath: json))
        let elements = try await read(json).reports
        #expect(elements == [json + "[0]": #"{"a":1}"#, json + "[1]": #"{"b":2}"#])
    }
}
