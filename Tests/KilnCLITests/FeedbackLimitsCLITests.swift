import Foundation
import Testing

/// `feedback ingest` reads mailboxes message by message and skips, by name, a report over
/// `feedback.maxReportBytes`.
@Suite struct FeedbackLimitsCLITests {
    static func bounce(_ address: String) -> String {
        "From: MAILER-DAEMON@mx.example.net\nSubject: Undelivered Mail\nX-Failed-Recipients: \(address)\n\n550 5.1.1 user unknown\n"
    }

    @Test(arguments: ["mbox", "maildir", "file", "json-lines"])
    func aReportOverTheLimitIsSkippedAndNamedAndTheRestIsRead(layout: String) async throws {
        let workspace = try Workspace(route: "smtp://127.0.0.1:1") { $0["feedback"] = ["maxReportBytes": 4096] }
        defer { workspace.remove() }
        let big = Self.bounce("big@example.net") + String(repeating: "junk line of a very large report\n", count: 1000)
        var paths: [String] = []
        var skippedName = ""
        switch layout {
        case "mbox":
            let path = workspace.directory + "/feedback.mbox"
            try ("From a Thu Jan  1 00:00:00 2026\n" + Self.bounce("one@example.net") + "\nFrom b Thu Jan  1 00:00:00 2026\n" + big
                 + "\nFrom c Thu Jan  1 00:00:00 2026\n" + Self.bounce("two@example.net")).write(toFile: path, atomically: true, encoding: .utf8)
            paths = [path]
            skippedName = path + ":8"
        case "maildir":
            let maildir = workspace.directory + "/Maildir"
            for folder in ["new", "cur", "tmp"] { try FileManager.default.createDirectory(atPath: maildir + "/" + folder, withIntermediateDirectories: true) }
            try Self.bounce("one@example.net").write(toFile: maildir + "/new/1", atomically: true, encoding: .utf8)
            try big.write(toFile: maildir + "/new/2", atomically: true, encoding: .utf8)
            try Self.bounce("two@example.net").write(toFile: maildir + "/new/3", atomically: true, encoding: .utf8)
            paths = [maildir]
            skippedName = maildir + "/new/2"
        case "file":
            for (name, text) in [("1.eml", Self.bounce("one@example.net")), ("2.eml", big), ("3.eml", Self.bounce("two@example.net"))] {
                try text.write(toFile: workspace.directory + "/" + name, atomically: true, encoding: .utf8)
                paths.append(workspace.directory + "/" + name)
            }
            skippedName = paths[1]
        default:
            let line = #"{"notificationType":"Bounce","bounce":{"bounceType":"Permanent","bouncedRecipients":[{"emailAddress":"ADDRESS","status":"5.1.1"}]},"mail":{}}"#
            let path = workspace.directory + "/ses.json"
            let padding = String(repeating: " ", count: 5000)
            try [line.replacingOccurrences(of: "ADDRESS", with: "one@example.net"), line.replacingOccurrences(of: "ADDRESS", with: "big@example.net") + padding,
                 line.replacingOccurrences(of: "ADDRESS", with: "two@example.net")].joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
            paths = [path]
            skippedName = path + ":2"
        }
        let result = try await kiln(["feedback", "ingest", "--config", workspace.config] + paths + ["--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(summary["messages"] as? Int == 2)
        let skipped = try #require(summary["skipped"] as? [String])
        #expect(skipped.count == 1)
        #expect(skipped.first?.hasPrefix(skippedName + ":") == true, "\(skipped)")
    }
}
