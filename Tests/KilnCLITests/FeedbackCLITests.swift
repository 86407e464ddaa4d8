import Foundation
import KilnTesting
import Testing

@Suite struct FeedbackCLITests {
    @Test func classifyPrintsTheDocumentedJSON() async throws {
        let workspace = try Workspace(route: "smtp://127.0.0.1:1")
        defer { workspace.remove() }
        let file = workspace.directory + "/bounce.eml"
        try """
        From: MAILER-DAEMON@mx.example.net\r
        To: b+7@bounce.example.com\r
        Subject: failure notice\r
        \r
        <carol@example.net>:\r
        Sorry, no mailbox here by that name. (#5.1.1)\r
        """.write(toFile: file, atomically: true, encoding: .utf8)
        let result = try await kiln(["feedback", "classify", file, "--json"])
        #expect(result.status == 0)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(json["type"] as? String == "bounce")
        #expect(json.keys.contains("feedbackType") && json.keys.contains("reason"))
        let recipients = try #require(json["recipients"] as? [[String: Any]])
        #expect(recipients.first?["address"] as? String == "carol@example.net")
        #expect(recipients.first?["status"] as? String == "5.1.1")
        #expect(recipients.first?["permanent"] as? Bool == true)
        #expect(try await kiln(["feedback", "classify", workspace.directory + "/missing.eml"]).status != 0)
    }

    @Test func ingestReadsAMaildirAndAnMboxAndFeedsTheSuppressionList() async throws {
        let server = try await LoopbackSMTPServer.start()
        // Reports not traced by a signed return path may suppress an address Kiln sent to.
        let workspace = try Workspace(route: server.url) { $0["feedback"] = ["suppressUnmatched": true] }
        defer { workspace.remove() }
        let sent = try await kiln(["send", "--config", workspace.config, "--from", "news@example.com", "--subject", "Hi", "--text", "Hello", "--wait"]
                            + ["one", "two", "three", "four", "five"].flatMap { ["--to", "\($0)@example.net"] })
        #expect(sent.status == 0, "\(sent.stderr)")
        let maildir = workspace.directory + "/Maildir"
        for folder in ["new", "cur", "tmp"] { try FileManager.default.createDirectory(atPath: maildir + "/" + folder, withIntermediateDirectories: true) }
        func bounce(_ address: String) -> String {
            "From: MAILER-DAEMON@mx.example.net\r\nSubject: Undelivered Mail\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=B\r\n\r\n--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx\r\n\r\nFinal-Recipient: rfc822; \(address)\r\nAction: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 user unknown\r\n\r\n--B--\r\n"
        }
        try bounce("one@example.net").write(toFile: maildir + "/new/1.eml", atomically: true, encoding: .utf8)
        try bounce("two@example.net").write(toFile: maildir + "/cur/2.eml:2,S", atomically: true, encoding: .utf8)
        // never@ was never sent to: recorded, not suppressed.
        try bounce("never@example.net").write(toFile: maildir + "/cur/3.eml:2,S", atomically: true, encoding: .utf8)
        let mbox = "From MAILER-DAEMON Thu Jan  1 00:00:00 2026\n" + bounce("three@example.net") + "\nFrom fbl Thu Jan  1 00:00:00 2026\n"
            + "From: fbl@isp.example\nContent-Type: multipart/report; report-type=feedback-report; boundary=R\n\n--R\nContent-Type: message/feedback-report\n\nFeedback-Type: abuse\nOriginal-Rcpt-To: four@example.net\n\n--R--\n"
        try mbox.write(toFile: workspace.directory + "/feedback.mbox", atomically: true, encoding: .utf8)
        let ses = #"[{"notificationType":"Bounce","bounce":{"bounceType":"Permanent","bouncedRecipients":[{"emailAddress":"five@example.net","status":"5.1.1","diagnosticCode":"smtp; 550 5.1.1 unknown"}]},"mail":{}}]"#
        try ses.write(toFile: workspace.directory + "/ses.json", atomically: true, encoding: .utf8)
        let result = try await kiln(["feedback", "ingest", "--config", workspace.config, maildir, workspace.directory + "/feedback.mbox", workspace.directory + "/ses.json", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(summary["messages"] as? Int == 6)
        #expect(summary["bounces"] as? Int == 4)
        #expect(summary["complaints"] as? Int == 1)
        #expect(summary["suppressed"] as? Int == 5)
        #expect(summary["unmatched"] as? Int == 6)
        #expect(summary["unverified"] as? Int == 0)
        let list = try await kiln(["suppression", "list", "--config", workspace.config, "--json"])
        let entries = try #require((try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [String: Any])?["entries"] as? [[String: Any]])
        #expect(Set(entries.compactMap { $0["address"] as? String }) == ["one@example.net", "two@example.net", "three@example.net", "four@example.net", "five@example.net"])
        #expect(entries.first { $0["address"] as? String == "four@example.net" }?["reason"] as? String == "COMPLAINT")
    }

    @Test func ingestByDefaultSuppressesNothingNotTracedAndCountsUnverified() async throws {
        let workspace = try Workspace(route: "smtp://127.0.0.1:1")
        defer { workspace.remove() }
        let file = workspace.directory + "/guessed.eml"
        try "From: MAILER-DAEMON@mx.example.net\r\nTo: b+1@bounce.example.com\r\nSubject: Undelivered Mail\r\nX-Failed-Recipients: victim@example.net\r\n\r\n550 5.1.1 user unknown\r\n"
            .write(toFile: file, atomically: true, encoding: .utf8)
        let result = try await kiln(["feedback", "ingest", "--config", workspace.config, file, "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(summary["unverified"] as? Int == 1)
        #expect(summary["suppressed"] as? Int == 0)
        #expect(try await kiln(["feedback", "ingest", "--config", workspace.config, file]).stdout.contains("1 unverified"))
    }

    @Test func suppressionListPagesThroughEveryEntryOnceAndImportExportRoundTrip() async throws {
        let workspace = try Workspace(route: "smtp://127.0.0.1:1")
        defer { workspace.remove() }
        let csv = "email,reason\n" + (0..<25).map { "user\($0)@example.net,\($0 % 2 == 0 ? "BOUNCE" : "")" }.joined(separator: "\n") + "\nnot-an-address,\n"
        try csv.write(toFile: workspace.directory + "/list.csv", atomically: true, encoding: .utf8)
        let imported = try await kiln(["suppression", "import", "--config", workspace.config, workspace.directory + "/list.csv"])
        #expect(imported.status == 0)
        #expect(imported.stdout.contains("imported 25"))
        #expect(imported.stderr.contains("list.csv:27"))
        var seen: [String] = []
        var token: String?
        var pages = 0
        repeat {
            var arguments = ["suppression", "list", "--config", workspace.config, "--page-size", "10", "--json"]
            if let token { arguments += ["--page-token", token] }
            let page = try #require(try JSONSerialization.jsonObject(with: Data(try await kiln(arguments).stdout.utf8)) as? [String: Any])
            seen += (page["entries"] as? [[String: Any]] ?? []).compactMap { $0["address"] as? String }
            token = page["nextPageToken"] as? String
            pages += 1
        } while token != nil && pages < 10
        #expect(pages == 3)
        #expect(seen.count == 25 && Set(seen).count == 25)
        let bounces = try await kiln(["suppression", "list", "--config", workspace.config, "--reason", "bounce", "--page-size", "100", "--json"])
        #expect((try JSONSerialization.jsonObject(with: Data(bounces.stdout.utf8)) as? [String: Any])?["entries"].map { ($0 as! [Any]).count } == 13)
        #expect(try await kiln(["suppression", "remove", "--config", workspace.config, "user0@example.net"]).stdout.contains("removed 1"))
        let exported = try await kiln(["suppression", "export", "--config", workspace.config])
        #expect(exported.stdout.split(separator: "\n").count == 25)
        #expect(try await kiln(["suppression", "list", "--config", workspace.config, "--page-token", "garbage!"]).status != 0)
        #expect(try await kiln(["suppression", "add", "--config", workspace.config, "--reason", "whatever", "a@example.net"]).status == 2)
    }
}
