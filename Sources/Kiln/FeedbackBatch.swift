import KilnCore
import KilnFeedback
import KilnStore

/// The stored message a piece of feedback is about.
typealias FeedbackTarget = (id: MessageID, configurationSet: String, recipient: String)

/// What one report adds to the store, built recipient by recipient: events, the messages
/// that count against reputation, and suppressions. `SendEngine.ingest` decides which
/// recipients to `apply` and which only to `flag`.
struct FeedbackBatch {
    let source: String
    let time: Timestamp
    let report: FeedbackReport
    var events: [DeliveryEvent] = []
    var bounces: [MessageID] = []
    var complaints: [MessageID] = []
    var entries: [SuppressionEntry] = []

    init(source: String, time: Timestamp, report: FeedbackReport) {
        self.source = source
        self.time = time
        self.report = report
    }

    /// Records the report about `recipient` as an event only: its detail starts with
    /// `note` ("unverified", "unmatched", "recipient mismatch ...").
    mutating func flag(_ recipient: FeedbackReport.Recipient, address: EmailAddress, messageID: MessageID?, note: String) {
        let kind: DeliveryEvent.Kind = report.type == .bounce ? .bounce : .complaint
        events.append(DeliveryEvent(kind: kind, time: time, messageID: messageID, recipient: address.description,
                                    detail: "\(note) \(summary(of: recipient))"))
    }

    /// Applies the report to `target`, whose recipient it is about: event, reputation, and
    /// the suppression a permanent bounce or a complaint calls for.
    mutating func apply(_ recipient: FeedbackReport.Recipient, to target: FeedbackTarget, outcome: inout FeedbackOutcome) {
        let address = target.recipient
        switch report.type {
        case .bounce:
            outcome.bounces += 1
            events.append(DeliveryEvent(kind: .bounce, time: time, messageID: target.id, recipient: address, detail: summary(of: recipient)))
            if recipient.permanent {
                bounces.append(target.id)
                entries.append(SuppressionEntry(address: address, reason: .bounce, source: "bounce (\(source)): \(diagnostic(recipient))", createdAt: time))
            }
        default:
            let type = report.feedbackType ?? "abuse"
            outcome.complaints += 1
            events.append(DeliveryEvent(kind: .complaint, time: time, messageID: target.id, recipient: address, detail: summary(of: recipient)))
            complaints.append(target.id)
            // An opt-out is an unsubscribe from that list; any other complaint stops all mail.
            if type == "opt-out" {
                entries.append(SuppressionEntry(address: address, scope: target.configurationSet, reason: .unsubscribe,
                                                source: "opt-out report (\(source))", createdAt: time))
            } else {
                entries.append(SuppressionEntry(address: address, reason: .complaint, source: "complaint \(type) (\(source))", createdAt: time))
            }
        }
    }

    /// `permanent bounce (source): 5.1.1 ...` or `complaint abuse (source)`.
    func summary(of recipient: FeedbackReport.Recipient) -> String {
        report.type == .bounce
            ? "\(recipient.permanent ? "permanent" : "transient") bounce (\(source)): \(diagnostic(recipient))"
            : "complaint \(report.feedbackType ?? "abuse") (\(source))"
    }

    func diagnostic(_ recipient: FeedbackReport.Recipient) -> String {
        [recipient.reason, recipient.status, recipient.diagnostic].compactMap { $0 }.joined(separator: " ")
    }
}
