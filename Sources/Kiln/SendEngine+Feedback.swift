import Foundation
import KilnCore
import KilnFeedback
import KilnMessage
import KilnStore
import Synchronization

/// What one ingested piece of feedback did.
public struct FeedbackOutcome: Sendable, Hashable, Codable {
    public var kind: FeedbackReport.Kind
    public var bounces = 0
    public var complaints = 0
    public var unsubscribes = 0
    /// Addresses newly added to the suppression list.
    public var suppressed = 0
    /// Recipients of feedback with no Kiln return path (suppressed only with
    /// `feedback.suppressUnmatched` and when Kiln has sent to them).
    public var unmatched = 0
    /// Recipients of feedback whose Kiln return path has a missing or wrong MAC: recorded
    /// (event detail "unverified ..."), suppressing nothing unless `feedback.suppressUnmatched`.
    public var unverified = 0
    /// Recipients of a report traced to a message that are not that message's recipient:
    /// recorded ("recipient mismatch"), never suppressed.
    public var mismatched = 0
    /// Recipient fields that are not email addresses (`*`, junk): skipped.
    public var invalid = 0

    public init(kind: FeedbackReport.Kind) { self.kind = kind }
}

extension SendEngine {
    /// Ingests one returned message (a bounce, a complaint, an unsubscribe mail to the
    /// List-Unsubscribe mailto address, an SES notification): records events, feeds the
    /// suppression list and the reputation guard, and pauses any scope the guard says to.
    /// A report larger than `feedback.maxReportBytes` is refused (`.invalidInput`).
    @discardableResult
    public func ingestFeedback(_ bytes: [UInt8], source: String) async throws(KilnError) -> FeedbackOutcome {
        let limit = configuration.feedbackSettings.reportLimit
        guard bytes.count <= limit else {
            throw KilnError(.invalidInput, "a report of \(bytes.count) bytes is larger than feedback.maxReportBytes (\(limit))", location: source)
        }
        let message = MIMEEntity(bytes: bytes)
        if let token = Self.unsubscribeToken(inSubject: message.field("Subject") ?? "") {
            var outcome = FeedbackOutcome(kind: .complaint)
            if try await unsubscribe(token: token, source: "mailto (\(source))") != nil {
                outcome.unsubscribes = 1
                outcome.suppressed = 1
            }
            return outcome
        }
        let report = FeedbackClassifier.classify(bytes)
        let values = [report.originalReturnPath ?? ""] + ["To", "Delivered-To", "X-Original-To", "Envelope-To"].flatMap { message.fields($0) }
        return try await ingest(report, trace: ReturnPath.trace(values, secret: try returnPathSecret()), source: source)
    }

    /// Ingests a classified report that `messageID` (nil: nothing) is known to be about.
    @discardableResult
    public func ingest(_ report: FeedbackReport, messageID: MessageID? = nil, source: String) async throws(KilnError) -> FeedbackOutcome {
        try await ingest(report, trace: messageID.map { .verified($0) } ?? .none, source: source)
    }

    /// Ingests a classified report. Who it may suppress depends on `trace`:
    ///
    /// | trace | recipient | effect |
    /// | --- | --- | --- |
    /// | verified | the message's recipient | event, reputation, suppression when permanent |
    /// | verified | another address | event "recipient mismatch", nothing else |
    /// | unverified / none | an address Kiln sent to, with `suppressUnmatched` | as verified |
    /// | unverified / none | otherwise | event ("unverified" / "unmatched"), nothing else |
    ///
    /// A recipient that is not an email address is skipped (`invalid`). A verified report
    /// about one recipient named by another address (the receiver's internal name for it)
    /// whose `originalAddress` is the message's recipient is about that recipient.
    @discardableResult
    public func ingest(_ report: FeedbackReport, trace: ReturnPath.Trace, source: String) async throws(KilnError) -> FeedbackOutcome {
        var outcome = FeedbackOutcome(kind: report.type)
        guard report.type == .bounce || report.type == .complaint else { return outcome }
        let time = now()
        var traced: FeedbackTarget?
        if case .verified(let id) = trace { traced = try await store.feedbackTarget(messageID: id, recipient: nil) }
        var batch = FeedbackBatch(source: source, time: time, report: report)
        let recipients = report.recipients.filter { recipient in
            !recipient.address.isEmpty
                && !(report.type == .bounce && ["delayed", "delivered", "relayed"].contains(recipient.action ?? ""))
        }
        for recipient in recipients {
            var named = recipient.address
            if let traced, recipients.count == 1, named.lowercased() != traced.recipient.lowercased(),
               recipient.originalAddress?.lowercased() == traced.recipient.lowercased() {
                named = traced.recipient
            }
            guard let address = try? EmailAddress(named) else {
                outcome.invalid += 1
                continue
            }
            let target: FeedbackTarget?
            switch trace {
            case .verified where traced != nil:
                if traced!.recipient.lowercased() == address.description.lowercased() {
                    target = traced
                } else {
                    outcome.mismatched += 1
                    batch.flag(recipient, address: address, messageID: traced!.id, note: "recipient mismatch (not the recipient of message \(traced!.id))")
                    continue
                }
            case .unverified, .verified, .none:
                if case .unverified = trace { outcome.unverified += 1 } else { outcome.unmatched += 1 }
                let note = if case .unverified = trace { "unverified" } else { "unmatched" }
                target = configuration.feedbackSettings.suppressesUnmatched
                    ? try await store.feedbackTarget(messageID: nil, recipient: address.description) : nil
                if target == nil {
                    batch.flag(recipient, address: address, messageID: nil, note: note)
                    continue
                }
            }
            batch.apply(recipient, to: target!, outcome: &outcome)
        }
        outcome.suppressed = try await store.recordFeedback(events: batch.events, bounces: batch.bounces, complaints: batch.complaints,
                                                            suppressions: batch.entries, now: time)
        broadcaster.publish(batch.events)
        try await enforceReputation()
        return outcome
    }

    /// The return path's MAC key (nil when none is configured), read once.
    func returnPathSecret() throws(KilnError) -> [UInt8]? {
        try loadedSecrets(for: .feedback).returnPath
    }

    /// Verifies a one-click unsubscribe token (RFC 8058) against the secrets of the
    /// configuration sets and suppresses that address for that list at once. Nil, and
    /// nothing changed, for a forged or altered token.
    @discardableResult
    public func unsubscribe(token: String, source: String = "one-click") async throws(KilnError) -> UnsubscribeToken? {
        let secrets = try unsubscribeSecrets()
        for set in configuration.configurationSets {
            guard let secret = secrets[set.name], !secret.isEmpty,
                  let verified = UnsubscribeToken.verify(token, secret: secret), verified.list == set.name else { continue }
            let time = now()
            _ = try await store.suppress([SuppressionEntry(address: verified.recipient, scope: set.name, reason: .unsubscribe,
                                                 source: "\(source) unsubscribe, campaign '\(verified.campaign)'", createdAt: time)])
            let event = DeliveryEvent(kind: .unsubscribe, time: time, recipient: verified.recipient, detail: "list \(set.name) (\(source))")
            try await store.append(events: [event])
            broadcaster.publish([event])
            return verified
        }
        return nil
    }

    /// The unsubscribe secrets of the configuration sets, read once (not per request).
    func unsubscribeSecrets() throws(KilnError) -> [String: [UInt8]] {
        // No set has an unsubscribe section: no token can be valid (nothing to read).
        guard configuration.configurationSets.contains(where: { $0.unsubscribe != nil }) else { return [:] }
        return try loadedSecrets(for: .unsubscribe).unsubscribe
    }

    /// `unsubscribe-<token>` in the Subject of a mail to the List-Unsubscribe mailto address.
    static func unsubscribeToken(inSubject subject: String) -> String? {
        let trimmed = subject.trimmingCharacters(in: .whitespaces)
        guard trimmed.lowercased().hasPrefix("unsubscribe-") else { return nil }
        let token = trimmed.dropFirst("unsubscribe-".count).prefix { !$0.isWhitespace }
        return token.isEmpty ? nil : String(token)
    }
}
