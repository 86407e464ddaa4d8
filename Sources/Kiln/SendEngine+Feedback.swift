import Foundation
import KilnCore
import KilnFeedback
import KilnMessage
import KilnStore

/// What one ingested piece of feedback did.
public struct FeedbackOutcome: Sendable, Hashable, Codable {
    public var kind: FeedbackReport.Kind
    public var bounces = 0
    public var complaints = 0
    public var unsubscribes = 0
    /// Addresses newly added to the suppression list.
    public var suppressed = 0
    /// Recipients for which no sent message was found (still suppressed when permanent).
    public var unmatched = 0
}

extension SendEngine {
    /// Ingests one returned message (a bounce, a complaint, an unsubscribe mail to the
    /// List-Unsubscribe mailto address, an SES notification): records events, feeds the
    /// suppression list and the reputation guard, and pauses any scope the guard says to.
    @discardableResult
    public func ingestFeedback(_ bytes: [UInt8], source: String) async throws(KilnError) -> FeedbackOutcome {
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
        var verp: [MessageID] = []
        for value in [report.originalReturnPath ?? ""] + ["To", "Delivered-To", "X-Original-To", "Envelope-To"].compactMap({ message.field($0) }) {
            if let id = Self.messageID(inReturnPath: value) { verp.append(id) }
        }
        return try await ingest(report, messageID: verp.first, source: source)
    }

    /// Ingests a classified report. `messageID` is the message the traceable return path names.
    @discardableResult
    public func ingest(_ report: FeedbackReport, messageID: MessageID? = nil, source: String) async throws(KilnError) -> FeedbackOutcome {
        var outcome = FeedbackOutcome(kind: report.type)
        guard report.type == .bounce || report.type == .complaint else { return outcome }
        let time = now()
        var events: [DeliveryEvent] = []
        var bounces: [MessageID] = []
        var complaints: [MessageID] = []
        var entries: [SuppressionEntry] = []
        for recipient in report.recipients where !recipient.address.isEmpty {
            if report.type == .bounce, recipient.action == "delayed" || recipient.action == "delivered" || recipient.action == "relayed" { continue }
            // The return path names one message (one recipient); the store checks the recipient agrees.
            let target = try await store.feedbackTarget(messageID: messageID, recipient: recipient.address)
            if target == nil { outcome.unmatched += 1 }
            // A report names any text it likes: what is not an address (a line break, a
            // control character, invalid UTF-8) is neither suppressed nor logged.
            guard target != nil || (try? EmailAddress(recipient.address)) != nil else { continue }
            let address = target?.recipient ?? recipient.address
            let detail = [recipient.reason, recipient.status, recipient.diagnostic].compactMap { $0 }.joined(separator: " ")
            switch report.type {
            case .bounce:
                outcome.bounces += 1
                events.append(DeliveryEvent(kind: .bounce, time: time, messageID: target?.id, recipient: address,
                                            detail: "\(recipient.permanent ? "permanent" : "transient") bounce (\(source)): \(detail)"))
                if recipient.permanent {
                    if let id = target?.id { bounces.append(id) }
                    entries.append(SuppressionEntry(address: address, reason: .bounce, source: "bounce (\(source)): \(detail)", createdAt: time))
                }
            default:
                let type = report.feedbackType ?? "abuse"
                outcome.complaints += 1
                events.append(DeliveryEvent(kind: .complaint, time: time, messageID: target?.id, recipient: address,
                                            detail: "complaint \(type) (\(source))"))
                if let id = target?.id { complaints.append(id) }
                // An opt-out is an unsubscribe from that list; any other complaint stops all mail.
                if type == "opt-out" {
                    entries.append(SuppressionEntry(address: address, scope: target?.configurationSet, reason: .unsubscribe,
                                                    source: "opt-out report (\(source))", createdAt: time))
                } else {
                    entries.append(SuppressionEntry(address: address, reason: .complaint, source: "complaint \(type) (\(source))", createdAt: time))
                }
            }
        }
        outcome.suppressed = try await store.recordFeedback(events: events, bounces: bounces, complaints: complaints, suppressions: entries, now: time)
        broadcaster.publish(events)
        try await enforceReputation()
        return outcome
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
        if let cached = unsubscribeSecretCache.withLock({ $0 }) { return cached }
        let loaded = try MessageFinisher.unsubscribeSecrets(configuration: configuration, secrets: secrets)
        unsubscribeSecretCache.withLock { $0 = loaded }
        return loaded
    }

    /// `b+<id>@bounce.example.com` → the message id.
    static func messageID(inReturnPath value: String) -> MessageID? {
        guard let plus = value.range(of: "b+") else { return nil }
        let digits = value[plus.upperBound...].prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, value[plus.upperBound...].dropFirst(digits.count).first == "@", let id = Int64(digits) else { return nil }
        return MessageID(id)
    }

    /// `unsubscribe-<token>` in the Subject of a mail to the List-Unsubscribe mailto address.
    static func unsubscribeToken(inSubject subject: String) -> String? {
        let trimmed = subject.trimmingCharacters(in: .whitespaces)
        guard trimmed.lowercased().hasPrefix("unsubscribe-") else { return nil }
        let token = trimmed.dropFirst("unsubscribe-".count).prefix { !$0.isWhitespace }
        return token.isEmpty ? nil : String(token)
    }
}
