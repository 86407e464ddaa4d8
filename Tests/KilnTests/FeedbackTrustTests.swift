import Foundation
import Kiln
import KilnCore
import KilnMessage
import KilnStore
import KilnTesting
import Testing

/// Feedback is untrusted input: only a bounce or complaint traced by a signed return path
/// to a message may suppress, and only that message's recipient.
@Suite struct FeedbackTrustTests {
    /// Sends to ann and bob and returns their ids.
    func sent(_ h: EngineHarness) async throws -> [MessageID] {
        let ids = try await h.engine.submit(OutgoingMessage(h.draft(to: ["ann@gmail.com", "bob@gmail.com"])))
        try await h.engine.runUntilIdle()
        return ids
    }

    /// A DSN traced to ann's message that names someone else: nothing is suppressed.
    @Test(arguments: [
        ("victim@example.net", "mismatched"),
        ("bob@gmail.com", "mismatched"),
        ("*", "invalid"),
        (String(repeating: "x", count: 5000), "invalid"),
        (String(repeating: "a", count: 300) + "@example.net", "invalid"),
    ])
    func aTracedBounceNamingAnotherRecipientSuppressesNothing(recipient: String, counted: String) async throws {
        let h = try await EngineHarness(feedback: .init(returnPathSecretEnv: "KILN_TEST_RETURN_PATH", suppressUnmatched: true))
        let ids = try await sent(h)
        let outcome = try await h.engine.ingestFeedback(FeedbackMail.dsn(for: recipient, returnPath: EngineHarness.returnPath(ids[0])), source: "forged")
        #expect((counted == "invalid" ? outcome.invalid : outcome.mismatched) == 1)
        #expect(outcome.suppressed == 0 && outcome.bounces == 0)
        #expect(try await h.engine.store.suppressionTotal() == 0)
        #expect(try await h.engine.reputation()["bulk"]?.bounces == 0)
        await h.finish()
    }

    /// A return path without a valid MAC is not traced: recorded as unverified, suppressing nothing.
    @Test(arguments: [
        "b+%d@bounce.example.com",              // the old, guessable form
        "b+%d-aaaaaaaaaa@bounce.example.com",   // a made-up MAC
        "b+%d-@bounce.example.com",             // an empty MAC
        "<b+%d-MAC@bounce.example.com>",        // the MAC of another message (filled in below)
    ])
    func aReturnPathWithoutAValidMACIsUnverified(form: String) async throws {
        let h = try await EngineHarness()
        let ids = try await sent(h)
        let other = EngineHarness.returnPath(ids[1])
        let mac = String(other[other.index(other.firstIndex(of: "-")!, offsetBy: 1)..<other.firstIndex(of: "@")!])
        let returnPath = String(format: form, Int(ids[0].rawValue)).replacingOccurrences(of: "MAC", with: mac)
        let events = h.engine.events()
        let outcome = try await h.engine.ingestFeedback(FeedbackMail.dsn(for: "ann@gmail.com", returnPath: returnPath), source: "guess")
        #expect(outcome.unverified == 1 && outcome.suppressed == 0 && outcome.bounces == 0)
        #expect(try await h.engine.store.suppression(of: "ann@gmail.com") == nil)
        h.engine.closeEvents()
        var details: [String] = []
        for await event in events where event.kind == .bounce { details.append(event.detail ?? "") }
        #expect(details.count == 1 && details[0].hasPrefix("unverified"))
        await h.finish()
    }

    /// With a signed return path the same report suppresses ann (and only ann).
    @Test func aSignedReturnPathSuppressesItsRecipient() async throws {
        let h = try await EngineHarness()
        let ids = try await sent(h)
        let outcome = try await h.engine.ingestFeedback(FeedbackMail.dsn(for: "ANN@gmail.com", returnPath: "<\(EngineHarness.returnPath(ids[0]))>"), source: "mx")
        #expect(outcome.bounces == 1 && outcome.suppressed == 1 && outcome.unverified == 0)
        #expect(try await h.engine.store.suppression(of: "ann@gmail.com")?.reason == .bounce)
        #expect(try await h.engine.store.suppression(of: "bob@gmail.com") == nil)
        await h.finish()
    }

    /// A DSN traced to ann's message whose Final-Recipient is the receiver's internal name
    /// and whose Original-Recipient is ann suppresses ann, and only ann.
    @Test func aTracedBounceWhoseOriginalRecipientIsTheRecipientSuppressesIt() async throws {
        let h = try await EngineHarness()
        let ids = try await sent(h)
        let mail = FeedbackMail.dsn(for: "userx@sims-ms-daemon", returnPath: EngineHarness.returnPath(ids[0]), originalRecipient: "ann@gmail.com")
        let outcome = try await h.engine.ingestFeedback(mail, source: "mx")
        #expect(outcome.bounces == 1 && outcome.suppressed == 1 && outcome.mismatched == 0)
        #expect(try await h.engine.store.suppression(of: "ann@gmail.com")?.reason == .bounce)
        #expect(try await h.engine.store.suppressionTotal() == 1)
        await h.finish()
    }

    /// A traced report naming one recipient by another address counts for the message's
    /// recipient only when its `originalAddress` is that recipient; another original, or
    /// several recipients, is a mismatch that suppresses nothing.
    @Test(arguments: [
        (["ANN@gmail.com"], true),
        (["bob@gmail.com"], false),
        (["ann@gmail.com", "ann@gmail.com"], false),
    ])
    func aTracedRecipientNamedByItsOriginalAddress(originals: [String], suppresses: Bool) async throws {
        let h = try await EngineHarness()
        let ids = try await sent(h)
        let recipients = originals.enumerated().map { index, original in
            FeedbackReport.Recipient(address: "userx\(index)@mailhub.example.org", originalAddress: original, status: "5.1.1", permanent: true,
                                     reason: "userunknown", action: "failed")
        }
        let outcome = try await h.engine.ingest(FeedbackReport(type: .bounce, recipients: recipients), messageID: ids[0], source: "mx")
        #expect(outcome.suppressed == (suppresses ? 1 : 0))
        #expect(outcome.mismatched == (suppresses ? 0 : originals.count))
        #expect(try await h.engine.store.suppression(of: "ann@gmail.com") != nil || !suppresses)
        #expect(try await h.engine.store.suppressionTotal() == (suppresses ? 1 : 0))
        await h.finish()
    }

    /// Feedback with no Kiln return path: suppresses only with `suppressUnmatched`, and
    /// only an address Kiln has sent to.
    @Test(arguments: [
        ("ann@gmail.com", false, false),
        ("ann@gmail.com", true, true),
        ("never@gmail.com", true, false),
        ("queued@gmail.com", true, false),
        ("*", true, false),
    ])
    func anUnmatchedReportSuppressesOnlyAnAddressSentToWhenConfigured(recipient: String, suppressUnmatched: Bool, suppresses: Bool) async throws {
        let h = try await EngineHarness(feedback: .init(returnPathSecretEnv: "KILN_TEST_RETURN_PATH", suppressUnmatched: suppressUnmatched))
        _ = try await sent(h)
        try await h.engine.pause()
        _ = try await h.engine.submit(OutgoingMessage(h.draft(to: ["queued@gmail.com"])))
        for mail in [FeedbackMail.dsn(for: recipient, returnPath: "bounces@bounce.example.com"), FeedbackMail.arf(for: recipient)] {
            let outcome = try await h.engine.ingestFeedback(mail, source: "feed")
            #expect(outcome.unmatched + outcome.invalid == 1)
        }
        let total = try await h.engine.store.suppressionTotal()
        #expect(total == (suppresses ? 1 : 0))
        #expect(try await h.engine.store.suppression(of: recipient) != nil || !suppresses)
        await h.finish()
    }

    /// Forged complaints (no signed return path) do not pause sending either.
    @Test func unverifiedComplaintsDoNotCountAgainstReputation() async throws {
        let h = try await EngineHarness(sets: [.init(name: "bulk", pool: "p", complaintPauseRate: 0.05, reputationMinimumVolume: 2)])
        let ids = try await sent(h)
        for _ in 0..<3 {
            _ = try await h.engine.ingestFeedback(FeedbackMail.arf(for: "ann@gmail.com", returnPath: "b+\(ids[0])@bounce.example.com"), source: "fbl")
        }
        #expect(try await h.engine.reputation()["bulk"]?.complaints == 0)
        #expect(try await h.engine.store.pausedScopes().isEmpty)
        await h.finish()
    }
}
