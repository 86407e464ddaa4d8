import Foundation
import Kiln
import KilnCore
import KilnTesting
import Testing

/// The engine reads its secrets once and keeps them: after the start-up check, removing
/// the secret's file changes nothing for the running engine (its submits, its delivery
/// runs, its feedback all use what was read), and the return path is signed with it.
@Suite struct SecretsOnceTests {
    @Test func secretsReadAtTheCheckServeEveryLaterUse() async throws {
        let h = try await EngineHarness(feedback: .init(returnPathSecretFile: "return-path.secret"))
        let file = (h.directory as NSString).appendingPathComponent("return-path.secret")
        try EngineHarness.returnPathSecret.write(toFile: file, atomically: true, encoding: .utf8)
        try h.engine.checkSecrets(for: .delivery)
        try FileManager.default.removeItem(atPath: file)

        let ids = try await h.engine.submit(OutgoingMessage(h.draft(to: ["a@gmail.com", "b@yahoo.com"])))
        try await h.engine.runUntilIdle()
        #expect(Set(h.network.messages.map(\.mailFrom)) == Set(ids.map(EngineHarness.returnPath)))
        #expect(try await h.engine.store.messages(ids: ids).allSatisfy { $0.state == .delivered })
        await h.finish()
    }

    /// A fresh engine on the same configuration, with the file gone, refuses to start and
    /// names the field.
    @Test func aSecretMissingAtTheCheckIsNamedByItsField() async throws {
        let h = try await EngineHarness(feedback: .init(returnPathSecretFile: "return-path.secret"))
        #expect {
            try h.engine.checkSecrets(for: .delivery)
        } throws: { error in
            (error as? KilnError)?.message.contains("feedback.returnPathSecretFile") == true
        }
        await h.finish()
    }
}
