import Foundation
import Kiln
import KilnCore
import KilnStore
import KilnSubmission
import KilnTesting
import Testing

/// A delegate's bounces count against the delegate: it is paused on its own, and the
/// owner's mail from the same identity keeps flowing.
@Suite struct DelegateReputationTests {
    @Test func aDelegateThatBouncesTenPercentIsPausedAndTheOwnerKeepsSending() async throws {
        let h = try GateHarness(tenants: [.init(name: "acme"), .init(name: "partner", bouncePauseRate: 0.10, reputationMinimumVolume: 20)], script: { command in
            guard case .recipient(let address) = command.kind, address.hasPrefix("unknown") else { return nil }
            return SMTPReply(code: 550, enhancedStatus: "5.1.1", text: "The email account that you tried to reach does not exist.")
        })
        defer { h.finish() }
        let owner = Principal(tenant: "default", credential: nil)
        let partner = Principal(tenant: "partner", credential: nil)
        func send(_ who: Principal, from: String, _ recipients: [String]) async throws -> [MessageID] {
            try await h.gate.submit(raw: GateHarness.raw(from: from), mailFrom: from, recipients: recipients, principal: who).get()
        }
        // The delegate: 2 of 20 recipients unknown (10%); the owner: 20 clean ones.
        _ = try await send(partner, from: "partner@example.com", (0..<18).map { "p\($0)@gmail.com" } + ["unknown1@gmail.com", "unknown2@gmail.com"])
        _ = try await send(owner, from: "news@example.com", (0..<20).map { "o\($0)@gmail.com" })
        try await h.engine.runUntilIdle()
        let reputation = try await h.engine.reputation()
        #expect(reputation["tenant:partner"]?.status == .sendingPaused)
        #expect(reputation["tenant:default"]?.status == .healthy)
        #expect(reputation["bulk"]?.bounces == 2)
        // Both send again from the same identity: the guard pauses the delegate alone.
        let held = try await send(partner, from: "partner@example.com", ["p-later@gmail.com"])
        let flowing = try await send(owner, from: "news@example.com", ["o-later@gmail.com"])
        try await h.engine.runUntilIdle()
        #expect(try await h.engine.store.pausedScopes() == ["tenant:partner"])
        #expect(try await h.engine.store.messages(ids: held).map(\.state) == [.queued])
        #expect(try await h.engine.store.messages(ids: flowing).map(\.state) == [.delivered])
        // The operator resumes the delegate: its held message goes out.
        try await h.engine.resume(tenant: "partner")
        try await h.engine.runUntilIdle()
        #expect(try await h.engine.store.messages(ids: held).map(\.state) == [.delivered])
    }
}
