import Foundation

/// Reads a message that came back to Kiln (through the return path, a feedback loop or a
/// shared pool's notification) and says what it is: an RFC 3464 delivery status
/// notification, one of the non-standard bounces real MTAs write, an RFC 5965 (ARF)
/// complaint, an Amazon SES notification, an RFC 3834 auto-reply, or unknown.
public enum FeedbackClassifier {
    public static func classify(_ bytes: some Collection<UInt8>) -> FeedbackReport {
        // A bare JSON notification (Amazon SES, directly or through SNS).
        if let first = bytes.first(where: { $0 != 32 && $0 != 9 && $0 != 10 && $0 != 13 }), first == UInt8(ascii: "{"),
           let report = SESNotification.parse(MIMEEntity.text(of: Array(bytes))) {
            return report
        }
        return classify(MIMEEntity(bytes: bytes))
    }

    public static func classify(_ message: MIMEEntity) -> FeedbackReport {
        var report = classifyContent(message)
        let original = returnedMessage(in: message)
        if report.originalMessageID == nil { report.originalMessageID = original?.field("Message-ID") ?? original?.field("Message-Id") }
        if report.originalReturnPath == nil {
            report.originalReturnPath = original?.field("Return-Path").map(DiagnosticText.bareAddress)
        }
        if report.originalFeedbackID == nil { report.originalFeedbackID = original?.field("Feedback-ID") }
        return report
    }

    static func classifyContent(_ message: MIMEEntity) -> FeedbackReport {
        let entities = message.walk(intoMessages: false)
        if let feedback = entities.first(where: { $0.contentType.type == "message/feedback-report" }) {
            return complaint(message, report: MIMEEntity(text: feedback.body))
        }
        if message.contentType.parameters["report-type"]?.lowercased() == "feedback-report" {
            let text = entities.dropFirst().first { $0.contentType.type.hasPrefix("text/") && $0.body.includes("Feedback-Type:") }
            return complaint(message, report: MIMEEntity(text: text?.body ?? ""))
        }
        if let ses = sesNotification(in: message) { return ses }
        if let other = nonARFComplaint(message) { return other }
        let statuses = entities.filter {
            ["message/delivery-status", "message/global-delivery-status"].contains($0.contentType.type)
                || ($0.contentType.type == "text/plain" && $0.body.includesIgnoringASCIICase("\naction:")
                    && $0.body.includesIgnoringASCIICase("final-recipient:"))
        }
        let humanText = humanReadableText(of: message)
        if !statuses.isEmpty {
            let lines = TextLines(humanText)
            let recipients = Array(statuses.flatMap { deliveryStatus($0.body, humanText: lines) }.prefix(maxRecipients))
            if !recipients.isEmpty {
                let finalActions: Set<String> = ["delivered", "relayed", "expanded"]
                if recipients.allSatisfy({ finalActions.contains($0.action ?? "") }) {
                    return FeedbackReport(type: .delivery, recipients: recipients)
                }
                let failed = recipients.filter { !finalActions.contains($0.action ?? "") }
                var report = FeedbackReport(type: .bounce, reason: failed.first?.reason, recipients: failed)
                report.rule = failed.first?.rule
                return report
            }
        }
        if isBounce(message, text: humanText) || !statuses.isEmpty {
            let recipients = nonStandardRecipients(message, text: humanText)
            var report = FeedbackReport(type: .bounce, reason: recipients.first?.reason, recipients: recipients)
            report.rule = recipients.first?.rule
            return report
        }
        if isAutoReply(message) {
            let from = message.field("From").map(DiagnosticText.bareAddress)
            return FeedbackReport(type: .autoReply, reason: "vacation",
                                  recipients: from.map { [FeedbackReport.Recipient(address: $0, reason: "vacation")] } ?? [])
        }
        return FeedbackReport(type: .unknown)
    }

    // MARK: Complaints (RFC 5965)

    static func complaint(_ message: MIMEEntity, report: MIMEEntity) -> FeedbackReport {
        let type = (report.field("Feedback-Type") ?? "other").lowercased().trimmingCharacters(in: .whitespaces)
        var addresses = report.fields("Original-Rcpt-To").map(DiagnosticText.bareAddress)
        if addresses.isEmpty, let removed = report.field("Removal-Recipient") { addresses = [DiagnosticText.bareAddress(removed)] }
        if addresses.isEmpty, let original = returnedMessage(in: message), let to = original.field("To") {
            addresses = DiagnosticText.addresses(in: to).map(\.address)
        }
        let recipients = addresses.filter { !$0.isEmpty }.map { FeedbackReport.Recipient(address: $0, reason: "feedback") }
        var result = FeedbackReport(type: .complaint, feedbackType: type, reason: type, recipients: recipients)
        if let mailFrom = report.field("Original-Mail-From") { result.originalReturnPath = DiagnosticText.bareAddress(mailFrom) }
        return result
    }

    /// Complaints that are not ARF: Microsoft's JMRP-style reports (the original with an
    /// X-HmXmrOriginalRecipient field) and Apple Mail's unsubscribe messages.
    static func nonARFComplaint(_ message: MIMEEntity) -> FeedbackReport? {
        if let original = returnedMessage(in: message), let recipient = original.field("X-HmXmrOriginalRecipient") {
            let address = DiagnosticText.bareAddress(recipient)
            var report = FeedbackReport(type: .complaint, feedbackType: "abuse", reason: "abuse",
                                        recipients: [FeedbackReport.Recipient(address: address, reason: "feedback")])
            report.originalReturnPath = original.field("Return-Path").map(DiagnosticText.bareAddress)
            return report
        }
        if (message.field("X-Apple-Unsubscribe") ?? "").lowercased().hasPrefix("true") {
            let from = message.field("From").map(DiagnosticText.bareAddress) ?? ""
            return FeedbackReport(type: .complaint, feedbackType: "opt-out", reason: "opt-out",
                                  recipients: from.isEmpty ? [] : [FeedbackReport.Recipient(address: from, reason: "feedback")])
        }
        return nil
    }

    static func sesNotification(in message: MIMEEntity) -> FeedbackReport? {
        for entity in message.walk(intoMessages: false) where entity.parts.isEmpty {
            let body = entity.body
            guard body.includes("\"notificationType\"") || body.includes("\"eventType\"") || body.includes("\"Type\" : \"Notification\"") else { continue }
            if let report = SESNotification.parse(body) { return report }
        }
        return nil
    }

    // MARK: Delivery status notifications (RFC 3464)

    /// The most recipients read from one report: Kiln sends one recipient per message, so
    /// a real report names one; the cap keeps a forged one from costing time per recipient.
    static let maxRecipients = 100

    static func deliveryStatus(_ body: String, humanText: TextLines) -> [FeedbackReport.Recipient] {
        // Groups of fields separated by blank lines: the first is about the message, the
        // others one recipient each.
        let groups = separatingRecipientGroups(body).components(separatedBy: "\n\n").map { MIMEEntity(text: $0.trimmingCharacters(in: .newlines) + "\n\n") }
        var perMessageMTA: String?
        var recipients: [FeedbackReport.Recipient] = []
        for group in groups where !group.fields.isEmpty && recipients.count < maxRecipients {
            let originalField = group.field("Original-Recipient")
            let finalField = group.field("Final-Recipient") ?? group.field("X-Actual-Recipient")
            guard let recipientField = finalField ?? originalField else {
                perMessageMTA = group.field("Reporting-MTA") ?? perMessageMTA
                continue
            }
            // Kiln sent to the Original-Recipient; the Final-Recipient may be where the
            // receiver rewrote it to (an alias's target, an internal name like
            // `userx@sims-ms-daemon`).
            let address = originalField.flatMap(DiagnosticText.mailbox(inRecipientField:)) ?? DiagnosticText.bareAddress(recipientField)
            let finalAddress = DiagnosticText.bareAddress(recipientField)
            let action = group.field("Action")?.lowercased().trimmingCharacters(in: .whitespaces)
            var diagnostic = group.field("Diagnostic-Code").map { value -> String in
                var text = Substring(value)
                if let semicolon = text.firstIndex(of: ";"), text[..<semicolon].count < 12 { text = text[text.index(after: semicolon)...] }
                return DiagnosticText.oneLine(text)
            } ?? ""
            let declaredStatus = group.field("Status").flatMap { DiagnosticText.status(in: $0) }
            // The human-readable part often says more than the machine part (sendmail's
            // transcript, Exchange's explanation): add what it says about this recipient.
            var context = humanContext(for: address, in: humanText)
            if context.isEmpty, finalAddress != address { context = humanContext(for: finalAddress, in: humanText) }
            let statusInDiagnostic = DiagnosticText.status(in: diagnostic)
            var status = declaredStatus
            // A generic 5.0.0 / 4.0.0 yields to the specific status the diagnostic carries.
            if let specific = statusInDiagnostic, status == nil || status!.hasSuffix(".0.0") { status = specific }
            if diagnostic.isEmpty { diagnostic = context }
            let code = DiagnosticText.replyCode(in: diagnostic)
            let command = BounceReason.command(in: diagnostic) ?? BounceReason.command(in: context)
            var decision = BounceReason.decide(diagnostic: diagnostic, status: status, replyCode: code, command: command)
            if decision.reason == .undefined || decision.reason == .onHold, !context.isEmpty, context != diagnostic {
                decision = BounceReason.decide(diagnostic: context, status: status, replyCode: code, command: command)
                decision.rule += "@human-text"
            }
            if action == "delayed", decision.reason == .undefined { decision = BounceReason.Decision(reason: .expired, rule: "action:delayed") }
            if isExpiry(status: status, action: action, text: diagnostic + " " + context) { decision = BounceReason.Decision(reason: .expired, rule: "expired") }
            let temporary = (status?.hasPrefix("4") ?? false) || (code.map { $0 / 100 == 4 } ?? false) || action == "delayed"
            recipients.append(FeedbackReport.Recipient(
                address: address, originalAddress: originalField.map(DiagnosticText.bareAddress), status: status, diagnostic: diagnostic.isEmpty ? nil : diagnostic,
                permanent: decision.reason.isAddressBad && !temporary, reason: decision.reason.rawValue, replyCode: code, action: action,
                rule: decision.rule))
        }
        _ = perMessageMTA
        return recipients
    }

    /// The DSN's fields with a blank line before each recipient's group even where the
    /// reporting MTA wrote none (RFC 3464 §2.1 requires one; AOL's and some gateways'
    /// reports run the groups together). A `Final-Recipient` or `Original-Recipient` field
    /// starts a new group when the group already has that field, or has a recipient field
    /// followed by others (`Action`, `Status`): either may come first within a group
    /// (Postfix writes Final then Original, Sun's Messaging Server the other way round).
    static func separatingRecipientGroups(_ body: String) -> String {
        guard body.range(of: "final-recipient:", options: .caseInsensitive) != nil else { return body }
        var out: [Substring] = []
        var fieldsInGroup = Set<String>()
        var recipientFieldsDone = false
        for line in body.split(separator: "\n", omittingEmptySubsequences: false) {
            let lowered = line.lowercased()
            if line.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                fieldsInGroup = []
                recipientFieldsDone = false
            } else if let field = ["final-recipient:", "original-recipient:"].first(where: lowered.hasPrefix) {
                if fieldsInGroup.contains(field) || recipientFieldsDone {
                    out.append("")
                    fieldsInGroup = []
                    recipientFieldsDone = false
                }
                fieldsInGroup.insert(field)
            } else if !fieldsInGroup.isEmpty, let first = line.first, first != " ", first != "\t", !lowered.hasPrefix("x-actual-recipient:") {
                recipientFieldsDone = true
            }
            out.append(line)
        }
        return out.joined(separator: "\n")
    }

    /// A failed delivery that timed out in the queue is an expiry, whatever the last reply was.
    static func isExpiry(status: String?, action: String?, text: String) -> Bool {
        if status == "4.4.7" || status == "5.4.7" { return true }
        let lowered = text.lowercased()
        return action == "failed" && (status?.hasPrefix("4") ?? false)
            && ["expired", "too long", "retry time", "timeout", "could not be delivered within", "giving up", "gave up"].contains(where: lowered.includes)
    }

    // MARK: Non-standard bounces

    static let bounceSenders = ["mailer-daemon", "postmaster", "mail delivery", "mail administrator", "mailer daemon", "mdaemon",
                                "mail.delivery", "bounce", "post_master", "nobody@", "mmdf", "daemon@", "mail system", "failure notice"]
    static let bounceSubjects = [
        "undeliver", "returned mail", "delivery status notification", "failure notice", "delivery failure", "mail delivery failed",
        "could not be delivered", "non remis", "nondeliverable", "non-deliverable", "undelivered", "delivery has failed",
        "returned to sender", "mail system error", "delivery notification", "delivery failed", "delivery report", "mail delivery",
        "permanent error", "error sending", "message not delivered", "notice of delivery", "not delivered", "delivery problem",
        "nicht zustellbar", "unzustellbar", "rejected", "unable to deliver", "warning: could not", "returned", "bounce",
        "delivery final failure", "mail failure", "failed delivery", "delivery error", "message rejected", "sending failed",
    ]
    static let bounceBodyPhrases = [
        "could not be delivered", "couldn't be delivered", "was not delivered", "wasn't able to deliver", "unable to deliver",
        "delivery to the following recipient", "delivery has failed", "permanent error", "permanent fatal error", "following address",
        "following recipient", "undeliverable", "failed to deliver", "delivery failed", "not be delivered", "message was rejected",
        "returned to sender", "could not deliver", "couldn't deliver", "fatal errors", "user unknown", "was undeliverable",
        "invalid user address", "requested action not taken",
    ]

    static func isBounce(_ message: MIMEEntity, text: String) -> Bool {
        if message.field("X-Failed-Recipients") != nil { return true }
        let from = (message.field("From") ?? "").lowercased()
        let subject = (message.field("Subject") ?? "").lowercased()
        let returnPath = (message.field("Return-Path") ?? "").lowercased()
        let senderLooksLikeMTA = bounceSenders.contains(where: from.includes) || returnPath == "<>" || returnPath.isEmpty && from.includes("daemon")
        let subjectLooksLikeBounce = bounceSubjects.contains(where: subject.includes)
        let lowered = text.lowercased()
        let bodyLooksLikeBounce = bounceBodyPhrases.contains(where: lowered.includes)
        if senderLooksLikeMTA && (subjectLooksLikeBounce || bodyLooksLikeBounce) { return true }
        if subjectLooksLikeBounce && bodyLooksLikeBounce { return true }
        return senderLooksLikeMTA && returnedMessage(in: message) != nil
    }

    static func nonStandardRecipients(_ message: MIMEEntity, text: String) -> [FeedbackReport.Recipient] {
        let original = returnedMessage(in: message)
        var excluded = Set<String>()
        for field in ["From", "To", "Return-Path", "Sender", "Reply-To", "Delivered-To"] {
            for found in DiagnosticText.addresses(in: message.field(field) ?? "") { excluded.insert(found.address.lowercased()) }
        }
        for field in ["From", "Return-Path", "Sender", "Reply-To"] {
            for found in DiagnosticText.addresses(in: original?.field(field) ?? "") { excluded.insert(found.address.lowercased()) }
        }
        var addresses: [String] = []
        var seen = Set<String>()
        func add(_ address: String) {
            if addresses.count < maxRecipients, seen.insert(address).inserted { addresses.append(address) }
        }
        // A role address (postmaster@, a list's -owner@) in X-Failed-Recipients counts only alone.
        let failedField = message.fields("X-Failed-Recipients").flatMap { DiagnosticText.addresses(in: $0).map { $0.address.lowercased() } }
        let failedNonRole = failedField.filter { !DiagnosticText.isRoleAddress($0) }
        for address in failedNonRole.isEmpty && Set(failedField).count == 1 ? failedField : failedNonRole { add(address) }
        let found = DiagnosticText.addresses(in: text).filter { candidate in
            let lowered = candidate.address.lowercased()
            let local = lowered.split(separator: "@").first.map(String.init) ?? ""
            return !excluded.contains(lowered) && !["mailer-daemon", "mailer_daemon", "mail-daemon"].contains(local)
        }
        // An address on a header line the report quotes (Exchange's "Your message To: ...
        // Subject: ... did not reach", a forwarded bounce's "> Message-Id: <...>") is a
        // summary of the original, not a failed recipient, while others are named.
        let bytes = Array(text.utf8)
        let named = found.filter { !isOnQuotedHeaderLine(bytes, at: $0.offset) }
        if addresses.isEmpty {
            var failed = failedCandidates(named, in: bytes)
            if failed.isEmpty { failed = failedCandidates(found, in: bytes) }
            for candidate in failed { add(candidate.address.lowercased()) }
        }
        if addresses.isEmpty, let to = original?.field("To") {
            for found in DiagnosticText.addresses(in: to) where !excluded.contains(found.address.lowercased()) { add(found.address.lowercased()) }
        }
        let wholeText = DiagnosticText.oneLine(text)
        let lines = TextLines(text)
        return addresses.map { address in
            var context = humanContext(for: address, in: lines)
            if context.isEmpty || (DiagnosticText.replyCode(in: context) == nil && BounceReason.classify(diagnostic: context, status: nil, replyCode: nil) == .undefined) {
                context = wholeText
            }
            let status = DiagnosticText.status(in: context)
            let code = DiagnosticText.replyCode(in: context)
            var decision = BounceReason.decide(diagnostic: context, status: status, replyCode: code)
            var general = context == wholeText
            if decision.reason == .undefined, context != wholeText {
                decision = BounceReason.decide(diagnostic: wholeText, status: status, replyCode: code)
                general = true
            }
            if general { decision.rule += "@whole-text" }
            if isExpiry(status: status, action: "failed", text: context) { decision = BounceReason.Decision(reason: .expired, rule: "expired") }
            // With several recipients, the report's general words are not one recipient's
            // fate: they never make it permanent.
            let temporary = (status?.hasPrefix("4") ?? false) || (code.map { $0 / 100 == 4 } ?? false) || general && addresses.count > 1
            return FeedbackReport.Recipient(address: address, status: status, diagnostic: context.isEmpty ? nil : String(context.prefix(1000)),
                                            permanent: decision.reason.isAddressBad && !temporary, reason: decision.reason.rawValue,
                                            replyCode: code, action: "failed", rule: decision.rule)
        }
    }

    /// The addresses a bounce's text names that may be failed recipients: a role address
    /// (postmaster, abuse, a list's owner, see `DiagnosticText.isRoleAddress`) only when no
    /// other address is named and its own sentence is not the report's boilerplate
    /// ("please contact postmaster@example.org").
    static func failedCandidates(_ found: [(address: String, offset: Int)], in bytes: [UInt8]) -> [(address: String, offset: Int)] {
        let others = found.filter { !DiagnosticText.isRoleAddress($0.address) }
        return others.isEmpty ? found.filter { !isBoilerplate(bytes, before: $0.offset) } : others
    }

    /// Words that, before an address in the same sentence, make it a contact to write to
    /// rather than a recipient that failed.
    static let boilerplateCues = ["contact", "question", "assist", "help", "report", "notify", "inform", "administrator", "complain",
                                  "support", "reach", "write to", "send a", "send mail", "send your", "reply", "forward", "mailto"]

    /// Whether the sentence before byte `offset` of `bytes` (on its line, or the line before
    /// when the address starts its line; at most 300 bytes back) reads as boilerplate: see
    /// `boilerplateCues`.
    static func isBoilerplate(_ bytes: [UInt8], before offset: Int) -> Bool {
        let offset = min(offset, bytes.count)
        let limit = max(0, offset - 300)
        var start = offset
        while start > limit, bytes[start - 1] != 10 { start -= 1 }
        let lead = bytes[start..<offset].filter { $0 != 32 && $0 != 9 && $0 != 13 && $0 != UInt8(ascii: "<") }
        if lead.isEmpty, start > limit {
            start -= 1
            while start > limit, bytes[start - 1] != 10 { start -= 1 }
        }
        var sentence = String(decoding: bytes[start..<offset], as: UTF8.self).lowercased()
        if let end = [". ", "! ", "? ", ".\n", ".\r"].compactMap({ sentence.range(of: $0, options: .backwards)?.upperBound }).max() {
            sentence = String(sentence[end...])
        }
        return boilerplateCues.contains(where: sentence.includes)
    }

    /// Header fields a report quotes from the original message (or its own envelope).
    static let quotedHeaderNames = ["from:", "to:", "cc:", "bcc:", "subject:", "sent:", "date:", "message-id:", "in-reply-to:",
                                    "references:", "reply-to:", "return-path:", "sender:", "mail from:", "x-mailer:"]

    /// Whether the line holding byte `offset` of `bytes` is a quoted header field (after
    /// any `>` quoting and blanks), such as `  To: ann@example.net`.
    static func isOnQuotedHeaderLine(_ bytes: [UInt8], at offset: Int) -> Bool {
        var start = min(offset, bytes.count)
        while start > 0, bytes[start - 1] != 10 { start -= 1 }
        var i = start
        while i < offset, bytes[i] == 32 || bytes[i] == 9 || bytes[i] == UInt8(ascii: ">") { i += 1 }
        let head = String(decoding: bytes[i..<min(offset, i + 16)], as: UTF8.self).lowercased()
        return quotedHeaderNames.contains { head.hasPrefix($0) }
    }

    /// The lines about one address in the human-readable text: from the line where it
    /// appears to the next blank line (or the next line naming another address), at most
    /// eight lines.
    static func humanContext(for address: String, in text: TextLines) -> String {
        let lines = text.lines
        let lowered = address.lowercased()
        guard let index = text.lowered.firstIndex(where: { $0.includes(lowered) }) else { return "" }
        var taken: [Substring] = [lines[index]]
        var i = index + 1
        while i < lines.count, taken.count < 8 {
            let line = lines[i]
            if line.trimmingCharacters(in: .whitespaces).isEmpty {
                // A blank line right after the address line (qmail, Exim) is not the end.
                if taken.count == 1 { i += 1; continue }
                break
            }
            let others = DiagnosticText.addresses(in: String(line)).filter { $0.address.lowercased() != lowered }
            let isNewRecipient = !others.isEmpty && (line.hasPrefix("<") || line.first?.isLetter == true && line.contains("@") && line.split(separator: " ").count <= 2)
            if isNewRecipient { break }
            taken.append(line)
            i += 1
        }
        return DiagnosticText.oneLine(taken.joined(separator: " "))
    }

    /// A text split into lines once, with each line lowercased once, for the searches
    /// made per recipient.
    struct TextLines {
        let lines: [Substring]
        let lowered: [String]
        init(_ text: String) {
            lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            lowered = lines.map { $0.lowercased() }
        }
    }

    /// The bounce's own words: its text parts outside the returned message, cut where the
    /// copy of the original begins.
    static func humanReadableText(of message: MIMEEntity) -> String {
        let entities = message.walk(intoMessages: false)
        var texts: [String] = []
        for entity in entities where entity.parts.isEmpty || entity.contentType.type.hasPrefix("multipart/") {
            let type = entity.contentType.type
            if type == "text/plain" || (type == "text/html" && texts.isEmpty) || type.hasPrefix("multipart/") && !entity.body.isEmpty {
                let body = type == "text/html" ? stripTags(entity.body) : entity.body
                texts.append(body)
            }
        }
        let joined = texts.joined(separator: "\n")
        return cutAtReturnedMessage(joined)
    }

    static let returnedMessageMarkers = [
        "below this line is a copy of the message", "this is a copy of the message", "original message follows",
        "----- original message", "original message ----", "returned message", "unsent message follows", "copy of the original message",
        "header of the original message", "headers of the original message", "--- message header follows", "original message headers",
        "------ message header", "the original message was", "content-type: message/rfc822", "----- message text follows",
        "original mail follows", "-- included message --",
    ]

    /// A separator line before the copy of the original ("------ This is a copy of the
    /// message", "--- Below this line is a copy"), not prose that mentions it (Postfix's
    /// "delete your own text from the attached returned message").
    static func isReturnedMessageMarker(_ lowered: some StringProtocol) -> Bool {
        guard returnedMessageMarkers.contains(where: lowered.includes) else { return false }
        let trimmed = lowered.drop { $0 == " " || $0 == "\t" }
        if let first = trimmed.first, "-=*_[<(".contains(first) { return true }
        return ["follow", "below", "copy of", "content-type"].contains(where: lowered.includes)
    }

    /// Whether `text` holds a returned-message marker (or one of `extra`) anywhere,
    /// ignoring ASCII case: a linear check before the per-line search.
    static func mayHoldMarker(_ text: String, extra: [String] = []) -> Bool {
        let lowered = String(decoding: text.utf8.map { $0 >= 65 && $0 <= 90 ? $0 | 0x20 : $0 }, as: UTF8.self)
        return (returnedMessageMarkers + extra).contains(where: lowered.includes)
    }

    static func cutAtReturnedMessage(_ text: String) -> String {
        // Most texts have no marker at all: one pass over the bytes says so.
        guard mayHoldMarker(text, extra: ["return-path: <", "received: from"]) else { return text }
        var lines: [Substring] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let lowered = line.lowercased()
            if isReturnedMessageMarker(lowered), lines.count > 2 { break }
            // The copy of the original starts with its header fields.
            if lowered.hasPrefix("return-path: <") || lowered.hasPrefix("received: from"), lines.count > 2 { break }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }

    static func stripTags(_ html: String) -> String {
        var out = ""
        var inTag = false
        for character in html {
            if character == "<" { inTag = true; continue }
            if character == ">" { inTag = false; out.append(" "); continue }
            if !inTag { out.append(character) }
        }
        return out.replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&nbsp;", with: " ").replacingOccurrences(of: "&amp;", with: "&")
    }

    /// The copy of the original message that came back with the report, if any.
    static func returnedMessage(in message: MIMEEntity) -> MIMEEntity? {
        for entity in message.walk(intoMessages: false).dropFirst() {
            let type = entity.contentType.type
            if ["message/rfc822", "text/rfc822-headers", "message/rfc822-headers", "message/global"].contains(type), let inner = entity.parts.first {
                return inner
            }
        }
        // A returned copy pasted into the text after a marker line.
        let body = message.parts.isEmpty ? message.body : ""
        guard mayHoldMarker(body) else { return nil }
        let lines = body.split(separator: "\n", omittingEmptySubsequences: false)
        if let marker = lines.firstIndex(where: { isReturnedMessageMarker($0.lowercased()) }) {
            let rest = lines[(marker + 1)...].drop { $0.trimmingCharacters(in: .whitespaces).isEmpty }
            let copy = MIMEEntity(text: rest.map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: "\n"))
            if !copy.fields.isEmpty { return copy }
        }
        return nil
    }

    // MARK: Auto-replies (RFC 3834)

    static func isAutoReply(_ message: MIMEEntity) -> Bool {
        let autoSubmitted = (message.field("Auto-Submitted") ?? "").lowercased()
        if autoSubmitted.hasPrefix("auto-replied") { return true }
        if message.field("X-Autoreply") != nil || message.field("X-Autorespond") != nil || message.field("X-Auto-Response-Suppress") != nil && autoSubmitted != "no" {
            let subject = (message.field("Subject") ?? "").lowercased()
            if message.field("X-Auto-Response-Suppress") == nil || autoReplySubjects.contains(where: subject.includes) { return true }
        }
        if (message.field("Precedence") ?? "").lowercased() == "auto_reply" { return true }
        let subject = (message.field("Subject") ?? "").lowercased()
        return autoReplySubjects.contains(where: subject.includes)
    }

    static let autoReplySubjects = ["auto:", "automatic reply", "autoreply", "auto-reply", "auto reply", "out of office", "out of the office",
                                    "vacation", "away from", "abwesenheit", "absence", "automatische antwort", "réponse automatique"]
}
