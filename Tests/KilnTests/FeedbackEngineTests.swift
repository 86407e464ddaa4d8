import Foundation
import Kiln
import KilnCore
import KilnMessage
import KilnStore
import KilnTesting
import Testing

/// Feedback coming back into the engine: suppression at submit, asynchronous bounces and
/// complaints traced to their messages, the reputation guard, unsubscribes.
@Suite struct FeedbackEngineTests {
    static let unsubscribe = Configuration.Unsubscribe(url: "https://example.com/u", mailto: "unsub@example.com", secretEnv: "KILN_TEST_UNSUB")
    static let secrets = SecretSource(environment: ["KILN_TEST_UNSUB": "a-test-secret-of-enough-length"])

    @Test func aSuppressedAddressIsNotQueuedButCounted() async throws {
        let h = try await EngineHarness()
        try await h.engine.store.suppress([SuppressionEntry(address: "gone@gmail.com", reason: .manual, source: "test", createdAt: h.clock.now())])
        try await h.engine.store.suppress([SuppressionEntry(address: "left@gmail.com", scope: "other", reason: .unsubscribe, source: "test", createdAt: h.clock.now())])
        let ids = try await h.engine.submit(OutgoingMessage(h.draft(to: ["gone@gmail.com", "left@gmail.com", "here@gmail.com"])))
        try await h.engine.runUntilIdle()
        let states = try await h.engine.store.messages(ids: ids).map(\.state)
        // Account-wide suppression holds for every set; "other"'s own list does not hold for "bulk".
        #expect(states == [.suppressed, .delivered, .delivered])
        #expect(Set(h.network.messages.flatMap(\.recipients)) == ["left@gmail.com", "here@gmail.com"])
        let otherIDs = try await h.engine.submit(OutgoingMessage(h.draft(to: ["left@gmail.com"]), configurationSet: "other"))
        #expect(try await h.engine.store.messages(ids: otherIDs).map(\.state) == [.suppressed])
        await h.finish()
    }

    @Test func anAsynchronousHardBounceIsTracedByItsReturnPathAndSuppressesOnlyThatAddress() async throws {
        let h = try await EngineHarness()
        let ids = try await h.engine.submit(OutgoingMessage(h.draft(to: ["ann@gmail.com", "bob@gmail.com"])))
        try await h.engine.runUntilIdle()
        let hard = try await h.engine.ingestFeedback(FeedbackMail.dsn(for: "ann@gmail.com", messageID: ids[0], status: "5.1.1", diagnostic: "550 5.1.1 The email account that you tried to reach does not exist."), source: "test")
        #expect(hard.bounces == 1 && hard.suppressed == 1 && hard.unmatched == 0)
        let soft = try await h.engine.ingestFeedback(FeedbackMail.dsn(for: "bob@gmail.com", messageID: ids[1], status: "5.2.2", diagnostic: "552 5.2.2 Mailbox full"), source: "test")
        #expect(soft.bounces == 1 && soft.suppressed == 0)
        #expect(try await h.engine.store.suppression(of: "ann@gmail.com")?.reason == .bounce)
        #expect(try await h.engine.store.suppression(of: "bob@gmail.com") == nil)
        let reputation = try await h.engine.reputation()["bulk"]!
        #expect(reputation.sent == 2 && reputation.bounces == 1)
        await h.finish()
    }

    @Test func complaintsOverThePauseLinePauseThatConfigurationSetOnly() async throws {
        let h = try await EngineHarness(sets: [
            .init(name: "bulk", pool: "p", complaintPauseRate: 0.05, reputationMinimumVolume: 10),
            .init(name: "other", pool: "p", reputationMinimumVolume: 10),
        ])
        let bulk = (0..<20).map { "b\($0)@gmail.com" }
        let other = (0..<20).map { "o\($0)@gmail.com" }
        let bulkIDs = try await h.engine.submit(OutgoingMessage(h.draft(to: bulk)))
        _ = try await h.engine.submit(OutgoingMessage(h.draft(to: other), configurationSet: "other"))
        try await h.engine.runUntilIdle()
        #expect(h.network.messages.flatMap(\.recipients).count == 40)
        // One complaint in 20 (5%) reaches bulk's pause line; none for other.
        let outcome = try await h.engine.ingestFeedback(FeedbackMail.arf(for: "b3@gmail.com", returnPath: EngineHarness.returnPath(bulkIDs[3])), source: "fbl")
        #expect(outcome.complaints == 1 && outcome.unmatched == 0)
        #expect(try await h.engine.store.suppression(of: "b3@gmail.com")?.reason == .complaint)
        let reputation = try await h.engine.reputation()
        #expect(reputation["bulk"]?.status == .sendingPaused)
        #expect(reputation["other"]?.status == .healthy)
        #expect(try await h.engine.store.pausedScopes() == ["bulk"])
        // bulk sends nothing now; other still does; nothing queued is lost.
        let heldIDs = try await h.engine.submit(OutgoingMessage(h.draft(to: ["later@gmail.com"])))
        _ = try await h.engine.submit(OutgoingMessage(h.draft(to: ["still@gmail.com"]), configurationSet: "other"))
        try await h.engine.runUntilIdle()
        #expect(h.network.messages.flatMap(\.recipients).contains("still@gmail.com"))
        #expect(!h.network.messages.flatMap(\.recipients).contains("later@gmail.com"))
        #expect(try await h.engine.store.messages(ids: heldIDs).map(\.state) == [.queued])
        // The operator resumes: a new window starts, the held message goes out.
        try await h.engine.resume(configurationSet: "bulk")
        try await h.engine.runUntilIdle()
        #expect(h.network.messages.flatMap(\.recipients).contains("later@gmail.com"))
        #expect(try await h.engine.reputation()["bulk"]?.status == .healthy)
        await h.finish()
    }

    @Test func aOneClickTokenUnsubscribesThatListAndAForgedOneChangesNothing() async throws {
        let h = try await EngineHarness(sets: [.init(name: "bulk", pool: "p", unsubscribe: Self.unsubscribe), .init(name: "other", pool: "p")],
                                        secrets: Self.secrets)
        let secret = Array("a-test-secret-of-enough-length".utf8)
        let token = UnsubscribeToken(recipient: "ann@gmail.com", list: "bulk", campaign: "spring").make(secret: secret)
        let forged = UnsubscribeToken(recipient: "bob@gmail.com", list: "bulk", campaign: "spring").make(secret: Array("another secret".utf8))
        var altered = Array(token)
        altered[2] = altered[2] == "A" ? "B" : "A"
        #expect(try await h.engine.unsubscribe(token: forged) == nil)
        #expect(try await h.engine.unsubscribe(token: String(altered)) == nil)
        #expect(try await h.engine.store.suppressionTotal() == 0)
        #expect(try await h.engine.unsubscribe(token: token)?.recipient == "ann@gmail.com")
        #expect(try await h.engine.store.suppression(of: "ann@gmail.com", scope: "bulk")?.reason == .unsubscribe)
        #expect(try await h.engine.store.suppression(of: "ann@gmail.com", scope: "other") == nil)
        // The mailto form: a mail whose subject is unsubscribe-TOKEN.
        let second = UnsubscribeToken(recipient: "cy@gmail.com", list: "bulk", campaign: "").make(secret: secret)
        let mail = Array("From: cy@gmail.com\r\nTo: unsub@example.com\r\nSubject: unsubscribe-\(second)\r\n\r\n".utf8)
        #expect(try await h.engine.ingestFeedback(mail, source: "mailto").unsubscribes == 1)
        #expect(try await h.engine.store.suppression(of: "cy@gmail.com", scope: "bulk") != nil)
        await h.finish()
    }
}
