import Foundation
import Kiln
import KilnCore
import KilnMessage
import KilnStore
import KilnTesting
import Testing

/// Rendering on the finishing pool: what leaves is what the dispatcher leased, in lease
/// order, and a message that cannot be rendered fails alone.
@Suite struct FinishingTests {
    @Test func manyRecipientsArriveInLeaseOrderAndFailuresStayAlone() async throws {
        let h = try await EngineHarness()
        let template = MessageTemplate(from: "news@example.com", subject: "Hello {{name}}", text: "Dear {{name}},\nyour code is {{code}}.\n")
        let count = 600
        let recipients = try (0..<count).map { i in
            // Every ninth recipient lacks a variable: a rendering failure for that one only.
            (try EmailAddress("user\(i)@\(["gmail.com", "yahoo.com", "outlook.com"][i % 3])"),
             i % 9 == 4 ? ["name": "N\(i)"] : ["name": "N\(i)", "code": "C\(i)"])
        }
        let ids = try await h.engine.submit(OutgoingMessage(template: template, recipients: recipients, campaign: "order"))
        try await h.engine.runUntilIdle()
        let expected = recipients.enumerated().filter { $0.offset % 9 != 4 }.map(\.element.0.description)
        let received = h.network.messages
        #expect(received.map { $0.recipients[0] } == expected)
        #expect(received.allSatisfy { message in
            let i = message.recipients[0].dropFirst(4).prefix { $0.isNumber }
            return message.text.contains("Dear N\(i),") && message.text.contains("your code is C\(i).")
        })
        let states = try await h.engine.store.messages(ids: ids).map(\.state)
        #expect(states.enumerated().allSatisfy { $0.element == ($0.offset % 9 == 4 ? .failed : .delivered) })
        await h.finish()
    }

    /// Stored variables are JSON with escapes (`\"`, `\\`, `\/`, `\t`): they render as given.
    @Test func variablesWithEscapesRenderAsGiven() async throws {
        let h = try await EngineHarness()
        let template = MessageTemplate(from: "news@example.com", subject: "Hi", text: "[{{name}}] [{{path}}]\n")
        let values = ["name": "Q \"x\" a\\b", "path": "a/b\tc"]
        _ = try await h.engine.submit(OutgoingMessage(template: template, recipients: [(try EmailAddress("zoe@gmail.com"), values)]))
        try await h.engine.runUntilIdle()
        let text = try #require(h.network.messages.first).text
        #expect(text.contains("Content-Transfer-Encoding: 7bit"))
        #expect(text.contains("[Q \"x\" a\\b] [a/b\tc]\r\n"))
        await h.finish()
    }
}
