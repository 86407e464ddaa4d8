import Foundation
import KilnCore
import KilnTesting
import Synchronization
import Testing

@Suite struct CampaignCLITests {
    /// Three providers, each with its own loopback receiver.
    struct Receivers {
        let gmail: LoopbackSMTPServer
        let yahoo: LoopbackSMTPServer
        let other: LoopbackSMTPServer
        var all: [LoopbackSMTPServer] { [gmail, yahoo, other] }
        var received: [String] { all.flatMap { $0.messages.flatMap(\.recipients) } }

        static func start(delay: useconds_t = 0) async throws -> Receivers {
            let script: LoopbackSMTPServer.Script = { command in
                if delay > 0, case .message = command.kind { usleep(delay) }
                if case .recipient(let address) = command.kind, address.hasPrefix("nobody") {
                    return SMTPReply(parsing: ProviderReplies.gmailUserUnknown)
                }
                return nil
            }
            return Receivers(gmail: try await .start(script: script), yahoo: try await .start(script: script), other: try await .start(script: script))
        }

        func shutdown() async { for server in all { await server.shutdown() } }
    }

    func workspace(_ receivers: Receivers, maxInFlight: Int = 64) throws -> Workspace {
        try Workspace(route: receivers.other.url, maxInFlight: maxInFlight) { json in
            var delivery = json["delivery"] as! [String: Any]
            delivery["routes"] = ["gmail": receivers.gmail.url, "yahoo": receivers.yahoo.url, "*": receivers.other.url]
            json["delivery"] = delivery
        }
    }

    func writeList(_ workspace: Workspace, count: Int, extra: String = "") throws -> [String] {
        var csv = "email,first_name,code\r\n"
        var addresses: [String] = []
        for i in 0..<count {
            let address = "user\(i)@\(["gmail.com", "yahoo.com", "example.org"][i % 3])"
            addresses.append(address)
            csv += "\(address),\"Name \(i), Jr.\",C\(i)\r\n"
        }
        try (csv + extra).write(toFile: workspace.directory + "/list.csv", atomically: true, encoding: .utf8)
        try #"{"from": "news@example.com", "subject": "Hi {{first_name}}", "text": "Your code is {{code}}.\n", "tags": ["spring", "offers"]}"#
            .write(toFile: workspace.directory + "/template.json", atomically: true, encoding: .utf8)
        return addresses
    }

    @Test func aCampaignDeliversEveryRecipientOnceAndTheReportMatches() async throws {
        let receivers = try await Receivers.start()
        let workspace = try workspace(receivers)
        defer { workspace.remove() }
        let addresses = try writeList(workspace, count: 600, extra: """
            user0@gmail.com,Dup,C0\r
            broken-address,X,C\r
            nobody@gmail.com,Gone,C9\r
            short@gmail.com,OnlyTwo\r
            nocode@yahoo.com,NoCode,\r
            """)
        let result = try await kiln(["campaign", "run", "--config", workspace.config, "--recipients", workspace.directory + "/list.csv",
                               "--template", workspace.directory + "/template.json", "--campaign", "spring1", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let received = receivers.received
        #expect(Set(received) == Set(addresses + ["nocode@yahoo.com"]))
        #expect(received.count == Set(received).count)
        #expect(report["recipients"] as? Int == 605)
        #expect(report["rejectedRows"] as? Int == 2)
        #expect(report["duplicates"] as? Int == 1)
        #expect(report["accepted"] as? Int == 602)
        #expect(report["delivered"] as? Int == received.count)
        #expect(report["bounced"] as? Int == 1)
        #expect((report["byProvider"] as? [String: [String: Int]])?["gmail"]?["delivered"] == receivers.gmail.messages.count)
        #expect(result.stderr.contains("list.csv:603"))  // the broken address, by line
        #expect(result.stderr.contains("list.csv:605"))  // the short row
        // The rendering used each row's variables, and the campaign's tags.
        let first = try #require(receivers.gmail.messages.first { $0.recipients == ["user0@gmail.com"] })
        #expect(first.text.contains("Subject: Hi Name 0, Jr.\r\n"))
        #expect(first.text.contains("Your code is C0."))
        #expect(first.text.contains("Feedback-ID: spring:offers:bulk:Test"))
        // A second run of the same id is refused; a resume of a finished campaign sends nothing more.
        let again = try await kiln(["campaign", "run", "--config", workspace.config, "--recipients", workspace.directory + "/list.csv",
                              "--template", workspace.directory + "/template.json", "--campaign", "spring1"])
        #expect(again.status == 2)
        #expect(try await kiln(["campaign", "resume", "spring1", "--config", workspace.config]).status == 0)
        #expect(receivers.received.count == received.count)
        await receivers.shutdown()
    }

    /// A variable that no column of the list gives would fail every recipient: the run
    /// refuses before it queues anything, naming the variable and the header's line.
    @Test func aVariableNoColumnGivesStopsTheRunBeforeAnythingIsQueued() async throws {
        let receivers = try await Receivers.start()
        let workspace = try workspace(receivers)
        defer { workspace.remove() }
        _ = try writeList(workspace, count: 3)
        try #"{"from": "news@example.com", "subject": "Hi {{first_name}}", "text": "{{code}} {{vip_level}}\n"}"#
            .write(toFile: workspace.directory + "/template.json", atomically: true, encoding: .utf8)
        try "email,first_name,code,vip_level\r\na@gmail.com,A,1,gold\r\nb@gmail.com,B,2,silver\r\n"
            .write(toFile: workspace.directory + "/list.csv", atomically: true, encoding: .utf8)
        try "email,first_name,code\r\nc@gmail.com,C,3\r\n".write(toFile: workspace.directory + "/list2.csv", atomically: true, encoding: .utf8)
        let ok = try await kiln(["campaign", "run", "--config", workspace.config, "--recipients", workspace.directory + "/list.csv",
                           "--template", workspace.directory + "/template.json", "--campaign", "c1", "--json"])
        #expect(ok.status == 0, "\(ok.stderr)")
        let missing = try await kiln(["campaign", "run", "--config", workspace.config, "--recipients", workspace.directory + "/list2.csv",
                                "--template", workspace.directory + "/template.json", "--campaign", "c2", "--json"])
        #expect(missing.status == 2, "\(missing.stderr)")
        #expect(missing.stderr.contains("'vip_level'") && missing.stderr.contains("list2.csv:1"), "\(missing.stderr)")
        let report = try await kiln(["campaign", "report", "c2", "--config", workspace.config, "--json"])
        #expect(report.status != 0, "the refused campaign was created: \(report.stdout)")
        #expect(Set(receivers.received) == ["a@gmail.com", "b@gmail.com"])
        await receivers.shutdown()
    }

    /// A campaign on a cold pool runs to its end with one `kiln campaign run`: the IP
    /// takes 20 at once and then one every 3 seconds, and the run keeps delivering
    /// at that pace until every recipient has arrived (before, it stopped with exit 3 and
    /// advice that looped). Progress goes to standard error, the report to standard output.
    @Test func aCampaignOnAColdPoolRunsToItsEnd() async throws {
        let server = try await LoopbackSMTPServer.start()
        let workspace = try Workspace(route: server.url) { json in
            json["providers"] = ["gmail": ["coldHourly": 1_200, "warmHourly": 12_000]]
            json["pools"] = [["name": "p", "ips": ["127.0.0.2"], "scaling": "fixed"]]
        }
        defer { workspace.remove() }
        var csv = "email,first_name,code\r\n"
        for i in 0..<24 { csv += "user\(i)@gmail.com,N\(i),C\(i)\r\n" }
        try csv.write(toFile: workspace.directory + "/list.csv", atomically: true, encoding: .utf8)
        try #"{"from": "news@example.com", "subject": "Hi {{first_name}}", "text": "Code {{code}}.\n"}"#
            .write(toFile: workspace.directory + "/template.json", atomically: true, encoding: .utf8)
        let started = ContinuousClock.now
        let result = try await kiln(["campaign", "run", "--config", workspace.config, "--recipients", workspace.directory + "/list.csv",
                                     "--template", workspace.directory + "/template.json", "--campaign", "cold1", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(report["delivered"] as? Int == 24, "\(result.stdout)")
        #expect(Set(server.messages.flatMap(\.recipients)).count == 24)
        // The pacing held mail back: the run waited for it rather than stopping.
        #expect(ContinuousClock.now - started > .seconds(3))
        await server.shutdown()
    }

    /// A recipient that cannot be sent (its Subject renders past the header limit) fails
    /// alone, the others arrive, and the run does not say success: exit 4.
    @Test func aCampaignWithFailedRecipientsDoesNotExitZero() async throws {
        let receivers = try await Receivers.start()
        let workspace = try workspace(receivers)
        defer { workspace.remove() }
        let huge = String(repeating: "x", count: 20_000)
        try "email,first_name,code\r\na@gmail.com,A,1\r\nb@gmail.com,\(huge),2\r\nc@yahoo.com,C,3\r\n"
            .write(toFile: workspace.directory + "/list.csv", atomically: true, encoding: .utf8)
        try #"{"from": "news@example.com", "subject": "Hi {{first_name}}", "text": "Code {{code}}.\n"}"#
            .write(toFile: workspace.directory + "/template.json", atomically: true, encoding: .utf8)
        let result = try await kiln(["campaign", "run", "--config", workspace.config, "--recipients", workspace.directory + "/list.csv",
                                     "--template", workspace.directory + "/template.json", "--campaign", "f1", "--json"])
        #expect(result.status == 4, "\(result.stderr)")
        #expect(result.stderr.contains("1 of 3 recipients"), "\(result.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(report["failed"] as? Int == 1)
        #expect(Set(receivers.received) == ["a@gmail.com", "c@yahoo.com"])
        await receivers.shutdown()
    }

    @Test func aBrokenTemplateQueuesNothing() async throws {
        let receivers = try await Receivers.start()
        let workspace = try workspace(receivers)
        defer { workspace.remove() }
        _ = try writeList(workspace, count: 3)
        try #"{"from": "news@example.com", "subject": "Hi {{#first_name}}", "text": "x"}"#
            .write(toFile: workspace.directory + "/template.json", atomically: true, encoding: .utf8)
        let result = try await kiln(["campaign", "run", "--config", workspace.config, "--recipients", workspace.directory + "/list.csv",
                               "--template", workspace.directory + "/template.json", "--campaign", "bad"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("template.json"))
        #expect(result.stderr.contains("subject"))
        let status = try await kiln(["status", "--config", workspace.config, "--json"])
        let json = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any]
        #expect((json?["byState"] as? [String: Int])?.isEmpty == true)
        await receivers.shutdown()
    }

    /// SIGKILL in the middle of a campaign, then resume: every recipient arrives, and
    /// only transfers in flight at the kill can arrive twice.
    @Test func aKilledCampaignResumesWithoutLosingOrRepeatingMuch() async throws {
        // From the 300th message on, the receivers hold each end of DATA until the kill has
        // happened: the kill lands mid-campaign however fast the machine delivers.
        let taken = Atomic<Int>(0)
        let released = Atomic<Bool>(false)
        let script: LoopbackSMTPServer.Script = { command in
            if case .message = command.kind, taken.add(1, ordering: .relaxed).newValue > 300 {
                let deadline = ContinuousClock.now + .seconds(60)
                while !released.load(ordering: .relaxed) && ContinuousClock.now < deadline { usleep(1_000) }
            }
            return nil
        }
        let receivers = Receivers(gmail: try await .start(script: script), yahoo: try await .start(script: script), other: try await .start(script: script))
        let maxInFlight = 32
        let workspace = try workspace(receivers, maxInFlight: maxInFlight)
        defer { workspace.remove() }
        let addresses = try writeList(workspace, count: 1500)
        let runner = try SpawnedProcess(kilnExecutable, ["campaign", "run", "--config", workspace.config, "--recipients", workspace.directory + "/list.csv",
                                                          "--template", workspace.directory + "/template.json", "--campaign", "k1"])
        var waited = 0
        while receivers.received.count < 300, waited < 3000 {
            try await Task.sleep(for: .milliseconds(20))
            waited += 1
        }
        kill(runner.processIdentifier, SIGKILL)
        runner.waitUntilExit()
        released.store(true, ordering: .relaxed)
        #expect(receivers.received.count < addresses.count, "the campaign finished before it was killed")
        let resumed = try await kiln(["campaign", "resume", "k1", "--config", workspace.config, "--json"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let received = receivers.received
        #expect(Set(received) == Set(addresses))
        #expect(received.count - Set(received).count <= 2 * maxInFlight)
        await receivers.shutdown()
    }
}
