import Foundation
import KilnCore
import KilnTesting
import Testing

/// An address with CR/LF inside an address literal could smuggle a second message through
/// `kiln send` or a campaign list: both refuse it, and say which.
@Suite struct AddressInjectionCLITests {
    static let smuggled = "x@[127.0.0.1]>\r\nDATA\r\nSubject: SMUGGLED\r\n\r\nbody\r\n.\r\nRSET\r\nNOOP [x]"

    @Test func sendRefusesAnInjectedRecipientAndSendsNothing() async throws {
        let server = try await LoopbackSMTPServer.start()
        let workspace = try Workspace(route: server.url)
        defer { workspace.remove() }
        let result = try await kiln(["send", "--config", workspace.config, "--from", "news@example.com", "--to", "a@gmail.com", "--to", Self.smuggled,
                               "--subject", "Hi", "--text", "Hello", "--wait"])
        #expect(result.status == 2, "\(result.stderr)")
        #expect(result.stderr.contains(#"--to: 'x@[127.0.0.1]>\r\nDATA\r\nSubject: SMUGGLED"#), "\(result.stderr)")
        #expect(result.stderr.contains("has a control character in its domain"))
        #expect(!result.stderr.contains("\r\nDATA"))
        #expect(server.messages.isEmpty)
        // Nothing was queued either.
        let status = try await kiln(["status", "--config", workspace.config, "--json"])
        let json = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any]
        #expect((json?["byState"] as? [String: Int] ?? [:]).values.reduce(0, +) == 0, "\(status.stdout)")
        await server.shutdown()
    }

    @Test func aCampaignRowWithAnInjectedOrNonUTF8AddressIsRejectedByLineAndTheRestIsDelivered() async throws {
        let receivers = try await CampaignCLITests.Receivers.start()
        let suite = CampaignCLITests()
        let workspace = try suite.workspace(receivers)
        defer { workspace.remove() }
        // Rows 2–31 are good; 32 is the injection (a quote opened over 8 lines: a row ends
        // at its line, so 32 is rejected for its open quote and 33–39 each as no address);
        // 40 is good; 41 is not UTF-8; 42 is good.
        let addresses = try suite.writeList(workspace, count: 30, extra: "\"\(Self.smuggled)\",Evil,C1\r\nafter@gmail.com,After,C2\r\n")
        let list = try FileHandle(forWritingTo: URL(fileURLWithPath: workspace.directory + "/list.csv"))
        try list.seekToEnd()
        try list.write(contentsOf: Array("bad".utf8) + [0xC0, 0xAF] + Array("@gmail.com,Bad,C3\r\nlast@yahoo.com,Last,C4\r\n".utf8))
        try list.close()
        let result = try await kiln(["campaign", "run", "--config", workspace.config, "--recipients", workspace.directory + "/list.csv",
                               "--template", workspace.directory + "/template.json", "--campaign", "inj1", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(report["rejectedRows"] as? Int == 8)
        #expect(report["accepted"] as? Int == 32)
        #expect(result.stderr.contains("list.csv:32: skipped: a quoted field is not closed on its line"), "\(result.stderr)")
        #expect(result.stderr.contains("list.csv:33: skipped:"), "\(result.stderr)")
        #expect(result.stderr.contains("list.csv:41: skipped:"), "\(result.stderr)")
        #expect(result.stderr.contains("is not valid UTF-8"))
        #expect(!result.stderr.contains("\r\nDATA"))
        let received = receivers.received
        #expect(Set(received) == Set(addresses + ["after@gmail.com", "last@yahoo.com"]))
        #expect(received.count == 32)
        let messages = receivers.all.flatMap(\.messages)
        #expect(!messages.contains { $0.text.contains("SMUGGLED") })
        #expect(!received.contains { $0.contains("\r") || $0.contains("\n") || $0.contains("[") })
        await receivers.shutdown()
    }
}
