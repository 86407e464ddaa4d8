import Foundation
import KilnCore
import KilnTesting
import Testing

/// What a campaign run says of its pace (progress on standard error, with the ETA at the
/// allowances granted now) and how its report counts failures.
@Suite struct CampaignPaceCLITests {
    /// One progress line: `campaign <id> [<elapsed> s]: ...`.
    struct ProgressLine {
        var elapsed: Double
        var delivered: Int
        /// The ETA in seconds (nil: the line has none).
        var eta: Int64?
        var text: String

        init?(_ line: String, campaign: String) {
            let head = "campaign \(campaign) ["
            guard line.hasPrefix(head), let close = line.range(of: " s]: ") else { return nil }
            guard let elapsed = Double(line[line.index(line.startIndex, offsetBy: head.count)..<close.lowerBound]) else { return nil }
            self.elapsed = elapsed
            text = line
            let body = line[close.upperBound...]
            delivered = body.range(of: #"\((\d+) delivered"#, options: .regularExpression)
                .flatMap { Int(body[$0].dropFirst().split(separator: " ")[0]) } ?? 0
            eta = Self.eta(in: line)
        }

        /// `ETA ~3 m 10 s` → 190; the units are d, h, m and s.
        static func eta(in line: String) -> Int64? {
            guard let start = line.range(of: "ETA ~") else { return nil }
            let words = line[start.upperBound...].prefix { $0 != ";" && $0 != "[" }.split(separator: " ")
            var seconds: Int64 = 0
            var index = 0
            while index + 1 < words.count, let value = Int64(words[index]) {
                switch words[index + 1] {
                case "d": seconds += value * 86_400
                case "h": seconds += value * 3_600
                case "m": seconds += value * 60
                case "s": seconds += value
                default: return nil
                }
                index += 2
            }
            return index == 0 ? nil : seconds
        }
    }

    @Test func theETAReadsEveryFormat() {
        #expect(ProgressLine.eta(in: "x; ETA ~20 s") == 20)
        #expect(ProgressLine.eta(in: "x; ETA ~3 m 10 s") == 190)
        #expect(ProgressLine.eta(in: "x; ETA ~3 h 10 m") == 11_400)
        #expect(ProgressLine.eta(in: "x; ETA unknown (no allowance yet)") == nil)
    }

    /// A cold pool of two IPs, each allowed 1,800 gmail messages an hour (a burst of 30 at
    /// once, then one every 2 s): 80 recipients take about 20 s past the bursts, in one
    /// `kiln campaign run`. Its progress lines say what pacing holds back per provider and
    /// the ETA at the live allowances, and the ETA of the first line after sending started
    /// is within 25% of the time the run then took.
    @Test(.timeLimit(.minutes(3))) func aPacedCampaignsETAMatchesTheTimeItTook() async throws {
        let server = try await LoopbackSMTPServer.start()
        let workspace = try Workspace(route: server.url) { json in
            json["providers"] = ["gmail": ["coldHourly": 1_800, "warmHourly": 1_800]]
        }
        defer { workspace.remove() }
        var csv = "email,first_name\r\n"
        for i in 0..<80 { csv += "user\(i)@gmail.com,N\(i)\r\n" }
        try csv.write(toFile: workspace.directory + "/list.csv", atomically: true, encoding: .utf8)
        try #"{"from": "news@example.com", "subject": "Hi {{first_name}}", "text": "Hello.\n"}"#
            .write(toFile: workspace.directory + "/template.json", atomically: true, encoding: .utf8)
        let result = try await kiln(["campaign", "run", "--config", workspace.config, "--recipients", workspace.directory + "/list.csv",
                                     "--template", workspace.directory + "/template.json", "--campaign", "pace1"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(Set(server.messages.flatMap(\.recipients)).count == 80)
        #expect(result.stdout.contains("delivered 80"), "\(result.stdout)")

        let lines = result.stderr.split(separator: "\n").compactMap { ProgressLine(String($0), campaign: "pace1") }
        let done = try #require(lines.last { $0.text.hasSuffix("; done") }, "\(result.stderr)")
        #expect(done.delivered == 80)
        let sending = lines.filter { $0.delivered > 0 && !$0.text.hasSuffix("; done") }
        #expect(sending.count >= 3, "too few progress lines:\n\(result.stderr)")
        for line in sending {
            #expect(line.eta != nil, "no ETA: \(line.text)")
            // The last messages may all be in flight, with nothing held back (and no bracket).
            guard !line.text.contains("; 0 held back by pacing") else { continue }
            #expect(line.text.contains("held back by pacing [gmail: "), "\(line.text)")
            #expect(line.text.contains(" at 3,600/h]"), "\(line.text)")
        }
        let first = try #require(sending.first)
        let eta = Double(try #require(first.eta))
        let took = done.elapsed - first.elapsed
        print("first line \(first.text)\nETA \(eta) s; took \(took) s")
        #expect(took > 10, "pacing did not hold the run back:\n\(result.stderr)")
        #expect(abs(eta - took) <= 0.25 * took, "ETA \(eta) s, took \(took) s:\n\(result.stderr)")

        // Finished: the status has nothing held back, and its JSON carries the pace.
        let status = try await kiln(["campaign", "status", "pace1", "--config", workspace.config, "--json"])
        #expect(status.status == 0, "\(status.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])
        let pace = try #require(json["pace"] as? [String: Any], "\(status.stdout)")
        #expect((pace["providers"] as? [Any])?.isEmpty == true)
        #expect(pace["seconds"] as? Int == 0)
        await server.shutdown()
    }

    /// The report counts bounces by their reply's reason and failures by why they could not
    /// be sent: two unknown users, one Subject rendered past the header limit.
    @Test func theReportCountsFailuresByReason() async throws {
        let script: LoopbackSMTPServer.Script = { command in
            if case .recipient(let address) = command.kind, address.hasPrefix("nobody") {
                return SMTPReply(parsing: ProviderReplies.gmailUserUnknown)
            }
            return nil
        }
        let server = try await LoopbackSMTPServer.start(script: script)
        let workspace = try Workspace(route: server.url)
        defer { workspace.remove() }
        let huge = String(repeating: "x", count: 20_000)
        try "email,first_name\r\na@gmail.com,A\r\nnobody1@gmail.com,B\r\nnobody2@gmail.com,C\r\nd@gmail.com,\(huge)\r\n"
            .write(toFile: workspace.directory + "/list.csv", atomically: true, encoding: .utf8)
        try #"{"from": "news@example.com", "subject": "Hi {{first_name}}", "text": "Hello.\n"}"#
            .write(toFile: workspace.directory + "/template.json", atomically: true, encoding: .utf8)
        let result = try await kiln(["campaign", "run", "--config", workspace.config, "--recipients", workspace.directory + "/list.csv",
                                     "--template", workspace.directory + "/template.json", "--campaign", "r1", "--json"])
        #expect(result.status == 4, "\(result.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(report["bounceReasons"] as? [String: Int] == ["userunknown": 2], "\(result.stdout)")
        #expect(report["failureReasons"] as? [String: Int] == ["header too long": 1], "\(result.stdout)")
        let text = try await kiln(["campaign", "report", "r1", "--config", workspace.config])
        #expect(text.stdout.contains("bounced: 2 (userunknown 2); failed: 1 (header too long 1)"), "\(text.stdout)")
        await server.shutdown()
    }
}
