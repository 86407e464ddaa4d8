import Kiln
import KilnCore
import KilnFeedback
import KilnStore
import KilnTesting
import Testing

extension FeedbackEngineTests {
    /// Issue 20: a report names any text it likes; what is not an address is neither
    /// suppressed nor logged.
    @Test func aReportNamingAnAddressWithALineBreakSuppressesNothingForIt() async throws {
        let h = try await EngineHarness()
        let report = FeedbackReport(type: .complaint, recipients: [.init(address: "evil@gmail.com\r\nX-Injected: yes"), .init(address: "real@gmail.com")])
        let outcome = try await h.engine.ingest(report, source: "test")
        #expect(outcome.complaints == 1 && outcome.unmatched == 2)
        #expect(try await h.engine.store.suppressionTotal() == 1)
        #expect(try await h.engine.store.suppression(of: "real@gmail.com") != nil)
        await h.finish()
    }
}
