import Kiln
import KilnCore
import KilnFeedback
import KilnStore
import KilnTesting
import Testing

extension FeedbackEngineTests {
    /// Hostile input: a report names any text it likes; what is not an address is neither
    /// suppressed nor logged.
    @Test func aReportNamingAnAddressWithALineBreakSuppressesNothingForIt() async throws {
        let h = try await EngineHarness()
        let report = FeedbackReport(type: .complaint, recipients: [.init(address: "evil@gmail.com\r\nX-Injected: yes"), .init(address: "real@gmail.com")])
        let outcome = try await h.engine.ingest(report, source: "test")
        // The line-break "address" is skipped as invalid; the real one was never sent to,
        // so an untraced report suppresses nothing for it either.
        #expect(outcome.invalid == 1 && outcome.unmatched == 1 && outcome.complaints == 0)
        #expect(try await h.engine.store.suppressionTotal() == 0)
        let events = try await h.engine.store.events(after: 0)
        #expect(!events.contains { $0.event.recipient?.contains("X-Injected") == true || $0.event.detail?.contains("X-Injected") == true })
        await h.finish()
    }
}
