import Foundation

/// Amazon SES bounce and complaint notifications (JSON, directly or wrapped in an SNS
/// envelope whose `Message` is that JSON as a string): the shared pool's feedback.
public enum SESNotification {
    /// Reads one notification; nil when the text is not one.
    public static func parse(_ text: String) -> FeedbackReport? {
        guard let start = text.firstIndex(of: "{"), let end = text.lastIndex(of: "}") , start < end else { return nil }
        let candidate = String(text[start...end])
        // Mail transport may have folded a long JSON line.
        let unfolded = candidate.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\n ", with: "")
            .replacingOccurrences(of: "\n", with: "")
        guard var object = ((try? JSONSerialization.jsonObject(with: Data(candidate.utf8))) as? [String: Any])
            ?? ((try? JSONSerialization.jsonObject(with: Data(unfolded.utf8))) as? [String: Any]) else { return nil }
        // SNS: {"Type": "Notification", "Message": "{...}"}
        if object["notificationType"] == nil, object["eventType"] == nil, let message = object["Message"] as? String,
           let inner = (try? JSONSerialization.jsonObject(with: Data(message.utf8))) as? [String: Any] {
            object = inner
        }
        guard let kind = (object["notificationType"] ?? object["eventType"]) as? String else { return nil }
        let mail = object["mail"] as? [String: Any]
        var report: FeedbackReport
        switch kind {
        case "Bounce":
            let bounce = object["bounce"] as? [String: Any] ?? [:]
            let bounceType = bounce["bounceType"] as? String ?? ""
            let subType = bounce["bounceSubType"] as? String ?? ""
            let recipients = (bounce["bouncedRecipients"] as? [[String: Any]] ?? []).map { entry -> FeedbackReport.Recipient in
                let diagnostic = entry["diagnosticCode"] as? String ?? ""
                let status = entry["status"] as? String
                let code = DiagnosticText.replyCode(in: diagnostic)
                var reason = BounceReason.classify(diagnostic: diagnostic, status: status, replyCode: code, command: .rcpt)
                // SES's own verdicts where the diagnostic says nothing.
                if diagnostic.isEmpty {
                    switch (bounceType, subType) {
                    case ("Permanent", "NoEmail"): reason = .userUnknown
                    case ("Permanent", "Suppressed"), ("Permanent", "OnAccountSuppressionList"): reason = .onHold
                    case ("Transient", "MailboxFull"): reason = .mailboxFull
                    case ("Transient", "MessageTooLarge"): reason = .messageTooBig
                    case ("Transient", "ContentRejected"): reason = .contentError
                    default: break
                    }
                }
                let permanent = reason.isAddressBad && bounceType != "Transient" && !(status ?? "").hasPrefix("4")
                return FeedbackReport.Recipient(address: entry["emailAddress"] as? String ?? "", status: status,
                                                diagnostic: diagnostic.isEmpty ? nil : diagnostic, permanent: permanent,
                                                reason: reason.rawValue, replyCode: code, action: entry["action"] as? String)
            }
            report = FeedbackReport(type: .bounce, reason: recipients.first?.reason, recipients: recipients)
        case "Complaint":
            let complaint = object["complaint"] as? [String: Any] ?? [:]
            let type = (complaint["complaintFeedbackType"] as? String) ?? "abuse"
            let recipients = (complaint["complainedRecipients"] as? [[String: Any]] ?? []).map {
                FeedbackReport.Recipient(address: $0["emailAddress"] as? String ?? "", reason: "feedback")
            }
            report = FeedbackReport(type: .complaint, feedbackType: type, reason: type, recipients: recipients)
        case "Delivery":
            let delivery = object["delivery"] as? [String: Any] ?? [:]
            let recipients = (delivery["recipients"] as? [String] ?? []).map {
                FeedbackReport.Recipient(address: $0, diagnostic: delivery["smtpResponse"] as? String, action: "delivered")
            }
            report = FeedbackReport(type: .delivery, recipients: recipients)
        default:
            return nil
        }
        report.originalMessageID = mail?["messageId"] as? String
        report.originalReturnPath = mail?["source"] as? String
        if let headers = mail?["headers"] as? [[String: Any]] {
            for header in headers {
                guard let name = header["name"] as? String, let value = header["value"] as? String else { continue }
                if name.caseInsensitiveCompare("Message-ID") == .orderedSame { report.originalMessageID = value }
                if name.caseInsensitiveCompare("Feedback-ID") == .orderedSame { report.originalFeedbackID = value }
            }
        }
        return report
    }
}
