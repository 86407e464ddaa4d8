import Foundation
import KilnCore
import KilnTesting
import Testing

/// `kiln message show`, `kiln events`, `kiln queue` (and `queue retry`), and `kiln send`'s
/// `--raw`, `--attach`, `--header` and `--reply-to`, by running the executable.
@Suite struct InspectionCLITests {
    func json(_ text: String) throws -> Any { try JSONSerialization.jsonObject(with: Data(text.utf8)) }

    func time(_ text: String?) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return text.flatMap(formatter.date(from:))
    }

    /// Sends with `--json` and returns the message ids.
    func send(_ workspace: Workspace, _ arguments: [String]) async throws -> [Int] {
        let sent = try await kiln(["send", "--config", workspace.config, "--from", "news@example.com", "--json"] + arguments)
        #expect(sent.status == 0, "\(sent.stderr)")
        return ((try? json(sent.stdout)) as? [[String: Any]] ?? []).compactMap { $0["id"] as? Int }
    }

    @Test func sentMessagesCarryTheNewOptionsAndShowTheirHistory() async throws {
        let server = try await LoopbackSMTPServer.start()
        let workspace = try Workspace(route: server.url)
        defer { workspace.remove() }
        let pdf = workspace.directory + "/report.pdf"
        try Data("%PDF-1.4 kiln attachment test".utf8).write(to: URL(fileURLWithPath: pdf))
        let eml = workspace.directory + "/raw.eml"
        try Data("From: News <news@example.com>\nTo: b@gmail.com\nSubject: Raw one\nX-Raw-Marker: 1\n\nsent as it is\n".utf8)
            .write(to: URL(fileURLWithPath: eml))
        let composed = try await send(workspace, ["--to", "a@gmail.com", "--subject", "Hi", "--text", "Hello", "--header", "X-Ref: 7",
                                                  "--reply-to", "replies@example.com", "--attach", pdf])
        let raw = try await send(workspace, ["--to", "b@gmail.com", "--raw", eml])
        #expect(composed.count == 1 && raw.count == 1)
        let run = try await kiln(["run", "--config", workspace.config, "--until-idle"])
        #expect(run.status == 0, "\(run.stderr)")
        let received = Dictionary(server.messages.map { ($0.recipients.first ?? "", $0.text) }, uniquingKeysWith: { a, _ in a })
        let a = try #require(received["a@gmail.com"])
        #expect(a.contains("\r\nX-Ref: 7\r\n"), "\(a)")
        #expect(a.contains("\r\nReply-To: replies@example.com\r\n"), "\(a)")
        #expect(a.contains("Content-Type: multipart/mixed"), "\(a)")
        #expect(a.contains("application/pdf") && a.contains("report.pdf"), "\(a)")
        #expect(a.contains(Data("%PDF-1.4 kiln attachment test".utf8).base64EncodedString()), "\(a)")
        let b = try #require(received["b@gmail.com"])
        #expect(b.contains("\r\nX-Raw-Marker: 1\r\n") && b.contains("Subject: Raw one\r\n") && b.contains("\r\n\r\nsent as it is\r\n"), "\(b)")

        let id = String(composed[0])
        let shown = try await kiln(["message", "show", "--config", workspace.config, id])
        #expect(shown.status == 0, "\(shown.stderr)")
        #expect(shown.stdout.split(separator: "\n").contains { $0.hasPrefix("recipient") && $0.hasSuffix(" a@gmail.com") }, "\(shown.stdout)")
        #expect(shown.stdout.split(separator: "\n").contains { $0.hasPrefix("state") && $0.hasSuffix("delivered") }, "\(shown.stdout)")
        #expect(shown.stdout.contains("\taccepted") && shown.stdout.contains("\tdelivery\t250"), "\(shown.stdout)")
        let record = try #require(try json(try await kiln(["message", "show", "--config", workspace.config, id, "--json"]).stdout) as? [String: Any])
        #expect(record["state"] as? String == "delivered")
        #expect(record["recipient"] as? String == "a@gmail.com")
        #expect(record["attempts"] as? Int == 1)
        #expect(record["nextAttemptAt"] == nil)
        #expect((record["reply"] as? [String: Any])?["code"] as? Int == 250)
        #expect((record["events"] as? [[String: Any]])?.map { $0["kind"] as? String } == ["accepted", "send", "delivery"])

        let missing = try await kiln(["message", "show", "--config", workspace.config, "999"])
        #expect(missing.status == 1 && missing.stderr.contains("no message 999"), "\(missing.stderr)")

        let ofA = try #require(try json(try await kiln(["events", "--config", workspace.config, "--recipient", "a@gmail.com", "--json"]).stdout) as? [[String: Any]])
        #expect(ofA.map { $0["eventType"] as? String } == ["accepted", "send", "delivery"])
        #expect(ofA.allSatisfy { $0["recipient"] as? String == "a@gmail.com" && $0["configurationSet"] as? String == "bulk" })
        let deliveries = try #require(try json(try await kiln(["events", "--config", workspace.config, "--kind", "delivery", "--json"]).stdout) as? [[String: Any]])
        #expect(deliveries.compactMap { $0["recipient"] as? String }.sorted() == ["a@gmail.com", "b@gmail.com"])
        let newest = try await kiln(["events", "--config", workspace.config, "--limit", "1", "--last", "1h"])
        #expect(newest.stdout.split(separator: "\n").count == 1 && newest.stdout.contains("\tdelivery\t"), "\(newest.stdout)")
        let future = try await kiln(["events", "--config", workspace.config, "--since", "2200-01-01T00:00:00Z"])
        #expect(future.status == 0 && future.stdout.isEmpty, "\(future.stdout) \(future.stderr)")
        let outOfRange = try await kiln(["events", "--config", workspace.config, "--since", "2999-01-01T00:00:00Z"])
        #expect(outOfRange.status == 2 && outOfRange.stderr.contains("out of range"), "\(outOfRange.stderr)")
        let badKind = try await kiln(["events", "--config", workspace.config, "--kind", "delivered"])
        #expect(badKind.status == 2 && badKind.stderr.contains("--kind"), "\(badKind.stderr)")
        await server.shutdown()
    }

    @Test func queueShowsDeferredMailAndRetryMakesItDueNow() async throws {
        let workspace = try Workspace(route: "smtp://127.0.0.1:1")
        defer { workspace.remove() }
        let ids = try await send(workspace, ["--to", "a@gmail.com", "--subject", "Hi", "--text", "Hello"])
        let id = String(try #require(ids.first))
        let run = try await kiln(["run", "--config", workspace.config, "--until-idle"])
        #expect(run.status == 0, "\(run.stderr)")

        let report = try #require(try json(try await kiln(["queue", "--config", workspace.config, "--json"]).stdout) as? [String: Any])
        let gmail = try #require((report["providers"] as? [[String: Any]])?.first)
        #expect(gmail["provider"] as? String == "gmail")
        #expect(gmail["deferred"] as? Int == 1 && gmail["pending"] as? Int == 1 && gmail["queued"] as? Int == 0)
        #expect(gmail["drain"] as? String == "estimated" && (gmail["hourly"] as? Int ?? 0) > 0, "\(gmail)")
        #expect((gmail["sources"] as? [[String: Any]])?.first?["deferred"] as? Int == 1, "\(gmail)")
        let due = try #require(time(gmail["nextDue"] as? String))
        #expect(due > Date().addingTimeInterval(5), "\(due)")
        let text = try await kiln(["queue", "--config", workspace.config])
        #expect(text.stdout.contains("gmail: 1 left, ~") && text.stdout.contains("/h"), "\(text.stdout)")
        let before = try #require(try json(try await kiln(["message", "show", "--config", workspace.config, id, "--json"]).stdout) as? [String: Any])
        #expect(before["state"] as? String == "deferred")
        #expect(try #require(time(before["nextAttemptAt"] as? String)) > Date().addingTimeInterval(5))

        let other = try await kiln(["queue", "retry", "--config", workspace.config, "--provider", "yahoo"])
        #expect(other.status == 0 && other.stdout.contains("made 0 "), "\(other.stdout) \(other.stderr)")
        let retried = try await kiln(["queue", "retry", "--config", workspace.config, "--recipient", "a@gmail.com"])
        #expect(retried.status == 0 && retried.stdout.contains("made 1 "), "\(retried.stdout) \(retried.stderr)")
        let after = try #require(try json(try await kiln(["message", "show", "--config", workspace.config, id, "--json"]).stdout) as? [String: Any])
        #expect(after["state"] as? String == "deferred")
        #expect(try #require(time(after["nextAttemptAt"] as? String)) <= Date())
        #expect(try await kiln(["message", "show", "--config", workspace.config, id]).stdout.contains("(due now)"))

        #expect(try await kiln(["pause", "--config", workspace.config]).status == 0)
        let paused = try await kiln(["queue", "--config", workspace.config])
        #expect(paused.stdout.contains("PAUSED") && paused.stdout.contains("gmail: 1 left, paused"), "\(paused.stdout)")
    }

    @Test(arguments: [
        (["--header", "From: boss@example.com"], "written by Kiln"),
        (["--header", "dkim-signature: v=1"], "written by Kiln"),
        (["--header", "List-Unsubscribe: <mailto:x@example.com>"], "written by Kiln"),
        (["--header", "X-Ref: 7\r\nBcc: spy@example.net"], "line break"),
        (["--header", "X-Ref: 7\nBcc: spy@example.net"], "line break"),
        (["--header", "No colon here"], "Name: value"),
        (["--raw", "/dev/null", "--subject", "Hi"], "--subject does not go with it"),
    ])
    func refusedSendOptionsExitWithStatusTwoAndQueueNothing(_ extra: [String], _ problem: String) async throws {
        let workspace = try Workspace(route: "smtp://127.0.0.1:1")
        defer { workspace.remove() }
        var arguments = ["send", "--config", workspace.config, "--from", "news@example.com", "--to", "a@gmail.com"]
        if !extra.contains("--raw") { arguments += ["--subject", "Hi", "--text", "Hello"] }
        let refused = try await kiln(arguments + extra)
        #expect(refused.status == 2, "\(refused.stdout) \(refused.stderr)")
        #expect(refused.stderr.contains(problem), "\(refused.stderr)")
        let queue = try #require(try json(try await kiln(["queue", "--config", workspace.config, "--json"]).stdout) as? [String: Any])
        #expect((queue["providers"] as? [Any])?.isEmpty == true, "\(queue)")
    }
}
