import Foundation
import Kiln
import KilnCore
import KilnFeedback
import KilnMessage
import KilnStore
import Testing

@Suite struct CampaignIngestTests {
    let template = MessageTemplate(from: "news@example.com", subject: "Hi {{name}}", text: "Hello {{name}}\n")

    func write(_ csv: String, in h: EngineHarness) throws -> String {
        let path = h.directory + "/list.csv"
        try csv.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func duplicatesAreCaughtAcrossBatchesAndAcrossAResume() async throws {
        let h = try await EngineHarness()
        try await h.engine.pause()
        // 60 distinct addresses, then each of the first 20 again with other letter cases.
        var csv = "email,name\n"
        for i in 0..<60 { csv += "user\(i)@gmail.com,N\(i)\n" }
        for i in 0..<20 { csv += "User\(i)@GMAIL.com,again\(i)\n" }
        let path = try write(csv, in: h)
        var runner = CampaignRunner(engine: h.engine)
        runner.batchSize = 10
        runner.readSize = 128
        var record = try await runner.create(id: "dups", recipientsFile: path, template: template, configurationSet: nil)
        var batches = 0
        record = try await runner.ingest(record, shouldStop: { batches += 1; return batches == 3 })
        #expect(!record.ingestComplete)
        #expect(record.rowsRead > 0 && record.rowsRead < 60)
        let firstPart = record.accepted
        // A new runner, as after a restart: what was queued must still count as seen.
        let resumed = CampaignRunner(engine: h.engine)
        record = try await resumed.ingest(try #require(try await h.engine.store.campaign(id: "dups")))
        #expect(record.ingestComplete)
        #expect(record.rowsRead == 80)
        #expect(record.accepted == 60)
        #expect(record.duplicates == 20)
        #expect(firstPart < 60)
        let report = try await resumed.report("dups")
        #expect(report.byProvider["gmail"]?.accepted == 60)
        await h.finish()
    }

    @Test func suppressedAddressesAreSkippedAndCounted() async throws {
        let h = try await EngineHarness()
        try await h.engine.pause()
        try await h.engine.store.suppress([SuppressionEntry(address: "gone@yahoo.com", reason: .bounce, source: "test", createdAt: h.clock.now())])
        let path = try write("email,name\nok@gmail.com,A\nGone@Yahoo.com,B\nalso@example.org,C\n", in: h)
        let runner = CampaignRunner(engine: h.engine)
        let record = try await runner.ingest(try await runner.create(id: "s", recipientsFile: path, template: template, configurationSet: nil))
        #expect(record.accepted == 2)
        #expect(record.suppressed == 1)
        await h.finish()
    }

    @Test func aComplaintTracedToACampaignMessageCountsInThatCampaignsReportOnly() async throws {
        let h = try await EngineHarness()
        try await h.engine.pause()
        let runner = CampaignRunner(engine: h.engine)
        let first = try write("email,name\nann@gmail.com,A\nbob@yahoo.com,B\n", in: h)
        _ = try await runner.ingest(try await runner.create(id: "c1", recipientsFile: first, template: template, configurationSet: nil))
        let second = h.directory + "/second.csv"
        try "email,name\ncy@example.org,C\n".write(toFile: second, atomically: true, encoding: .utf8)
        _ = try await runner.ingest(try await runner.create(id: "c2", recipientsFile: second, template: template, configurationSet: nil))
        // Traced by its (verified) return path to bob's message.
        let bob = try #require(try await h.engine.store.messages(ids: (1...3).map { MessageID($0) }).first { $0.recipient == "bob@yahoo.com" })
        let outcome = try await h.engine.ingest(FeedbackReport(type: .complaint, feedbackType: "abuse", recipients: [.init(address: "bob@yahoo.com")]),
                                          messageID: bob.id, source: "test")
        #expect(outcome.complaints == 1 && outcome.unmatched == 0)
        #expect(try await runner.report("c1").complaints == 1)
        #expect(try await runner.report("c2").complaints == 0)
        await h.finish()
    }
}
