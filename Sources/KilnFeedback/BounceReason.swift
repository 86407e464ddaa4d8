import KilnCore

/// Why a message did not reach a recipient: the reply table's reasons (`ReplyReason`),
/// one vocabulary whether the refusal arrives as an SMTP reply or inside a bounce report.
/// A report is read by the reply table first (`ReplyClassifier`), then by the words that
/// bounce reports use beyond SMTP replies (`textRules`), then by its status and code.
public typealias BounceReason = ReplyReason

extension ReplyReason {
    /// The SMTP command a rejection answered, when the bounce says.
    public enum Command: String, Sendable {
        case connect, helo, mail, rcpt, data
    }

    /// Finds the command named in a diagnostic ("in reply to RCPT TO command", "after end
    /// of data", ">>> DATA", "did not like our RCPT TO").
    public static func command(in text: String) -> Command? {
        let lowered = text.lowercased()
        let rules: [(Command, [String])] = [
            (.rcpt, ["rcpt to", "in reply to rcpt", "after rcpt", ">>> rcpt", "[rcpt_to]", "(rcpt)"]),
            (.mail, ["mail from", "in reply to mail", "after mail", ">>> mail", "sender address rejected"]),
            (.data, ["end of data", "after data", ">>> data", "in reply to data", "our data", "(data)", "end of message", "after the message"]),
            (.helo, ["helo", "ehlo", "my name was rejected"]),
            (.connect, ["connected to", "greeting", "initial connection", "connection refused", "connect to"]),
        ]
        var best: (Command, Int)?
        for (command, patterns) in rules {
            for pattern in patterns {
                if let offset = lowered.range(ofBytes: pattern), best == nil || offset < best!.1 { best = (command, offset) }
            }
        }
        return best?.0
    }

    /// Decides the reason, much as sisimai does: an enhanced status with one meaning
    /// decides; otherwise the text, where "user unknown" wording counts as a bad address
    /// only when the status (x.1.1) or the command (RCPT) agrees, and otherwise means a
    /// filter after DATA (or a rejected sender after MAIL); then the status, then the
    /// reply code.
    public static func classify(diagnostic: String, status: String?, replyCode: Int?, command: Command? = nil) -> BounceReason {
        decide(diagnostic: diagnostic, status: status, replyCode: replyCode, command: command).reason
    }

    /// A reason and the rule that decided it (`status:5.1.1`, `text:mailboxfull`,
    /// `definite-user`, `code:550`, `fallback`), for `kiln feedback classify`.
    public struct Decision: Hashable, Sendable {
        public var reason: BounceReason
        public var rule: String
    }

    /// As `classify(diagnostic:status:replyCode:command:)`, with the rule that decided.
    public static func decide(diagnostic: String, status: String?, replyCode: Int?, command: Command? = nil) -> Decision {
        let text = diagnostic.lowercased()
        let command = command ?? Self.command(in: diagnostic)
        let statusReason = status.flatMap { statusRules[$0] }
        if let status, let statusReason, decisiveStatuses.contains(status) { return Decision(reason: statusReason, rule: "status:\(status)") }
        for phrase in definiteUserUnknown where text.includes(phrase) { return Decision(reason: .userUnknown, rule: "definite-user") }
        // 5.2.1 with user-unknown words is a bad address; alone, a disabled mailbox.
        if status == "5.2.1", command == .rcpt, textRules.first(where: { $0.0 == .userUnknown })!.1.contains(where: text.includes),
           !textRules.first(where: { $0.0 == .suspend })!.1.contains(where: text.includes) {
            return Decision(reason: .userUnknown, rule: "status:5.2.1+text:userunknown")
        }
        if statusReason == .userUnknown || statusReason == .hostUnknown {
            // x.1.1 and x.1.2 are trusted unless the words say it is something else.
            let overriding: [BounceReason] = [.noRelaying, .blocked, .mailboxFull, .hasMoved, .rejected, .hostUnknown, .rateLimited, .mailerError]
            for (reason, patterns) in textRules where overriding.contains(reason) && patterns.contains(where: text.includes) {
                return Decision(reason: reason, rule: "text:\(reason.rawValue)")
            }
            return Decision(reason: statusReason!, rule: "status:\(status ?? "")")
        }
        // A bare "Recipient address rejected." (no reason after it) at RCPT: the address.
        // The reply table's specific rules, as for an SMTP reply (one vocabulary). Whether
        // the address itself is bad stays with the report's own reading below, which
        // knows the command it answered (unknown-user words after DATA are a filter).
        if let code = replyCode ?? status.flatMap({ $0.first == "4" ? 450 : $0.first == "5" ? 550 : nil }),
           let reading = ReplyClassifier.specificReading(code: code, status: status, text: diagnostic),
           !reading.reason.isAddressBad, reading.reason != .suspend {
            return Decision(reason: reading.reason, rule: "table:\(reading.rule)")
        }
        if let offset = text.range(ofBytes: "recipient address rejected"),
           text.utf8.dropFirst(offset + "recipient address rejected".utf8.count).drop(while: { $0 == 32 }).first != UInt8(ascii: ":") {
            return Decision(reason: command == .rcpt ? .userUnknown : .filtered, rule: "recipient-address-rejected")
        }
        for (reason, patterns) in textRules where patterns.contains(where: text.includes) {
            if reason == .userUnknown {
                switch command {
                case .rcpt: return Decision(reason: .userUnknown, rule: "text:userunknown+rcpt")
                case .mail: return Decision(reason: .rejected, rule: "text:userunknown+mail")
                default: return Decision(reason: .filtered, rule: "text:userunknown+data")
                }
            }
            return Decision(reason: reason, rule: "text:\(reason.rawValue)")
        }
        if let statusReason { return Decision(reason: statusReason, rule: "status:\(status ?? "")") }
        if let status {
            let parts = status.split(separator: ".")
            if parts.count == 3 {
                switch parts[1] {
                case "1": return Decision(reason: status.hasPrefix("5") ? .userUnknown : .onHold, rule: "status-class:X.1")
                case "2": return Decision(reason: .mailboxFull, rule: "status-class:X.2")
                case "3": return Decision(reason: .systemError, rule: "status-class:X.3")
                case "4": return Decision(reason: .networkError, rule: "status-class:X.4")
                case "5": return Decision(reason: .syntaxError, rule: "status-class:X.5")
                case "6": return Decision(reason: .contentError, rule: "status-class:X.6")
                case "7": return Decision(reason: .securityError, rule: "status-class:X.7")
                default: break
                }
            }
        }
        if let replyCode {
            switch replyCode {
            case 552: return Decision(reason: .mailboxFull, rule: "code:\(replyCode)")
            case 421: return Decision(reason: .tooManyConnections, rule: "code:\(replyCode)")
            case 450, 451, 452: return Decision(reason: .systemError, rule: "code:\(replyCode)")
            case 550, 551, 553, 554: return Decision(reason: .onHold, rule: "code:\(replyCode)")
            default: break
            }
        }
        return Decision(reason: .undefined, rule: "fallback")
    }

    /// Statuses that mean one thing whatever the words around them.
    static let decisiveStatuses: Set<String> = [
        "5.1.6", "5.1.10", "5.1.7", "5.1.8", "5.2.2", "5.3.2", "5.2.3", "5.3.4", "5.4.1", "4.4.7", "5.4.7",
        "5.7.23", "5.7.24", "5.7.25", "5.7.26", "4.7.26", "4.7.25", "4.2.2",
    ]

    /// Wordings that real MTAs use only for an address that does not exist.
    static let definiteUserUnknown: [String] = [
        "recipient address rejected: access denied",  // Exchange Online directory-based edge blocking
        "invalid final delivery userid",  // IMail
        "recipientnotfound", "recipient not found by smtp address lookup",  // Exchange
        "mail.local: unknown user",  // sendmail's local delivery agent
        "please check if address is correct",  // Trend Micro InterScan
        "no such user here",  // "550 Requested action not taken: no such user here"
        "this user doesn't have a", "no mailbox here by that name",  // Yahoo, qmail
        "address couldn't be found", "address could not be found",  // Office 365
        "sorry, no mailbox here",
        "requested action not taken: mailbox unavailable",  // Outlook.com, Hotmail
        "adresse destinataire invalide",  // Orange
        "unknown recipient or mailbox unavailable", "the recipient name is not recognized",  // Exchange
    ]

    /// Ordered: the first reason whose patterns match wins. Reasons that receivers often
    /// dress in user-unknown codes (blocks, spam, full mailboxes, disabled accounts) come
    /// before the address-is-bad reasons.
    static let textRules: [(BounceReason, [String])] = [
        (.hasMoved, ["has been moved", "address has changed", "has moved", "no longer at this address", "user has moved"]),
        (.hostUnknown, ["does not accept mail", "null mx", "couldn't find a mail exchanger", "no mx found", "could not find a mail exchanger", "not accept any mail", "domain does not receive mail", "no mx record", "mx points to",
                      "indicated no smtp service"]),  // Exim's words for a null MX (RFC 7505)
        (.virusDetected, ["virus", "malware", "infected"]),
        (.requirePTR, ["reverse dns", "reverse lookup", "no ptr", "ptr record", "resolve your address", "cannot find your hostname", "not resolve to your ip", "hostname lookup failed", "doesn't have reverse", "rdns"]),
        (.authFailure, ["spf", "dkim", "dmarc", "sender policy framework", "authentication failed", "authentication check", "not authenticated", "unauthenticated", "message failed authentication"]),
        (.failedStartTLS, ["starttls", "tls is required", "must issue a starttls", "requires tls", "encryption required", "support tls",
                             "tls required", "tls negotiation failed"]),  // RFC 3207; Postfix, Gmail
        (.noRelaying, ["relay", "not local host", "not permitted to relay", "we do not relay", "relaying denied", "unable to relay", "not a gateway", "not our customer"]),
        (.tooManyConnections, ["too many connections", "too many concurrent", "connection limit", "too many sessions", "too many simultaneous"]),
        (.rateLimited, ["too many recipients this hour", "has sent to too many", "rate limit", "ratelimit", "sending rate", "unusual rate", "too fast", "slow down", "throttl"]),
        (.blocked, ["reputation"]),
        (.rejected, ["sender address rejected", "sender rejected", "domain of sender", "sender verify failed", "sender unknown", "invalid sender", "rejected sender", "sender domain"]),
        (.blocked, [
            "blacklist", "blocklist", "block list", "black list", "spamhaus", "spamcop", "sorbs", "barracuda", "dnsbl", " rbl", "rbl ",
            "client host rejected", "blocked using", "listed at", "listed in", "is listed", "your ip", "ip address", "connection refused by",
            "access denied", "not allowed to send", "has been blocked", "been blocked", "blocked by", "blocked -", "is blocked",
            "rejected because of", "refused to talk", "banned", "your host", "host rejected", "poor sender",
            "connection rejected", "connections from", "you are not allowed", "dynamic ip", "dial-up", "residential",
            "mail from your", "messages from your", "name was rejected",
        ]),
        (.spamDetected, ["spam", "unsolicited", "junk mail", "bulk mail", "message content rejected", "content filter", "suspicious", "uce"]),
        (.mailboxFull, [
            "mailbox full", "mailbox is full", "mailbox full", "quota", "over the allowed", "exceeded storage", "exceeds the size limit of the mailbox",
            "insufficient disk", "mail box full", "mailfolder is full", "mailbox size limit", "full mailbox", "box is full", "is over its",
            "account is full", "disk full", "user is over", "storage limit", "too much mail stored", "overquota", "mailbox has exceeded",
            "is full", "the user's mailbox is full",
        ]),
        (.messageTooBig, ["message too large", "message is too large", "too big", "size exceeds", "message size", "exceeds size", "exceeds the maximum size", "message length exceeds", "is larger than"]),
        (.sessionLimit, ["too many recipients"]),
        (.messageTooBig, ["exceeded the limit", "exceeds limit"]),
        (.suspend, [
            "disabled", "suspended", "inactive", "is not active", "deactivated", "account has been locked", "account is locked",
            "account expired", "mailbox is frozen", "currently suspended", "temporarily unavailable", "account closed", "has been closed",
            "no longer active", "invalid account", "mailbox unavailable due to", "closed due to inactivity",
        ]),
        (.hostUnknown, [
            "host unknown", "dns lookup failure", "unknown host", "host not found", "domain not found", "no such domain", "domain does not exist",
            "domain unknown", "unknown domain", "name or service not known", "unrouteable mail domain", "unroutable mail domain",
            "no route to host found", "host or domain name not found", "nxdomain", "illegal host/domain", "domain name not found",
            "could not be resolved", "unresolvable", "no valid host", "dns error", "recipient domain", "domain is not",
            "unrouteable address", "hostname not found", "host name lookup failure", "invalid domain", "domain must exist", "unknown mail domain",
            "non-existent domain", "nonexistent domain", "domain isn't in my list", "domain not in my list", "not in my list of allowed rcpthosts",
        ]),
        (.userUnknown, [
            "user unknown", "unknown user", "no such user", "no such mailbox", "no such recipient", "no such account", "no such person",
            "does not exist", "doesn't exist", "does not exists", "not exist", "mailbox not found", "recipient not found", "recipient unknown",
            "invalid recipient", "unknown recipient", "unknown address", "user not found", "no mailbox here",
            "not a valid mailbox", "invalid mailbox", "mailbox unavailable", "mailbox not available", "user doesn't have", "doesn't have a",
            "does not have an account", "addressee unknown", "unknown local part", "bad destination mailbox", "no account by that name",
            "there is no one at this address", "is not a valid", "unknown or illegal alias", "not listed in", "isn't in our",
            "no valid recipients", "user does not", "unknown e-mail address", "unknown email address",
            "mailbox does not", "no mailbox", "address unknown", "user invalid", "invalid address", "not our user", "not a known user",
            "no such local user", "this account has been", "that user does not", "unknown mailbox",
            "no user", "no mail box", "user is unknown", "address does not", "invalid user",
            "mailbox name not allowed", "non-existent", "nonexistent", "undeliverable address", "alias unknown",
            "no such address", "not found", "cannot find", "bad address", "ungültig", "unbekannt", "existiert nicht",
        ]),
        (.expired, [
            "delivery time expired", "retry time", "too long", "queue too long", "could not be delivered within", "retry timeout",
            "message expired", "delivery expired", "giving up", "gave up", "has been delayed", "delivery attempts will continue",
            "timeout exceeded", "time limit", "message timed out", "in the queue for", "will not be delivered", "not delivered for",
            "expired", "retry period",
        ]),
        (.networkError, [
            "connection refused", "connection timed out", "timed out", "could not connect", "couldn't connect", "network is unreachable",
            "no route to host", "lost connection", "connection reset", "mail loop", "too many hops", "loops back", "routing loop",
            "unable to connect", "connect to", "network error", "host is unreachable", "hop count exceeded", "mx lookup failed",
        ]),
        (.rejected, [
            "sender address rejected", "sender rejected", "domain of sender", "sender verify failed", "sender unknown", "from address",
            "invalid sender", "sender domain", "envelope sender", "mail from", "return path", "sender is not", "rejected sender",
            "not allowed to receive", "refused mail from",
        ]),
        (.securityError, ["authentication required", "security policy", "certificate", "not authorized", "unauthorized", "permission denied"]),
        (.filtered, ["filtered", "rejected by user", "refused by recipient", "recipient does not accept", "not accepting", "denied by", "only accept", "message refused", "is restricted", "restricted"]),
        (.policy, ["policy", "not compliant", "prohibited", "violat", "not permitted", "refused", "denied", "rejected"]),
        (.notCompliantRFC, ["rfc 5322", "rfc5322", "rfc 2822", "rfc2822", "multiple", "duplicate header", "header error", "malformed", "improper"]),
        (.contentError, ["content", "attachment", "header"]),
        (.syntaxError, ["syntax error", "syntax", "command unrecognized", "unrecognized command", "bad sequence", "line too long"]),
        (.systemFull, ["insufficient system storage", "system storage", "out of disk", "disk space", "no space left"]),
        (.mailerError, ["mailer error", "command failed", "x-unix", "procmail", "unknown mailer", "exit code", "local delivery failed", "error in processing"]),
        (.systemError, ["system error", "local error", "internal error", "server error", "temporary failure", "configuration error", "system config", "try again later", "service unavailable", "not available"]),
    ]

    /// Enhanced statuses with one clear meaning.
    static let statusRules: [String: BounceReason] = [
        "5.1.0": .userUnknown, "5.1.1": .userUnknown, "5.1.3": .userUnknown, "5.1.2": .hostUnknown, "5.1.4": .userUnknown,
        "5.1.6": .hasMoved, "5.1.10": .hostUnknown, "5.1.7": .rejected, "5.1.8": .rejected, "5.1.9": .hostUnknown,
        "4.1.1": .userUnknown, "4.1.2": .hostUnknown, "4.1.8": .rejected, "4.1.7": .rejected,
        "5.2.0": .mailboxFull, "5.2.1": .suspend, "5.2.2": .mailboxFull, "5.2.3": .messageTooBig, "5.2.4": .systemError,
        "4.2.2": .mailboxFull, "4.2.1": .suspend, "4.2.0": .mailboxFull,
        "5.3.0": .systemError, "5.3.1": .systemFull, "5.3.2": .hostUnknown, "5.3.4": .messageTooBig, "4.3.1": .systemFull, "4.3.0": .systemError,
        "4.3.2": .hostUnknown,
        "5.4.0": .networkError, "5.4.1": .userUnknown, "5.4.3": .systemError, "5.4.4": .hostUnknown, "5.4.6": .networkError, "5.4.7": .expired,
        "4.4.1": .networkError, "4.4.2": .networkError, "4.4.3": .systemError, "4.4.4": .hostUnknown, "4.4.5": .systemFull, "4.4.6": .networkError,
        "4.4.7": .expired,
        "5.5.0": .syntaxError, "5.5.1": .syntaxError, "5.5.2": .syntaxError, "5.5.3": .sessionLimit, "5.5.4": .syntaxError,
        "5.6.0": .contentError, "5.6.1": .contentError, "5.6.3": .contentError,
        "5.7.0": .securityError, "5.7.1": .blocked, "5.7.9": .policy, "5.7.23": .authFailure, "5.7.24": .authFailure,
        "5.7.25": .requirePTR, "5.7.26": .authFailure, "5.7.27": .hostUnknown, "5.7.28": .blocked, "5.7.606": .blocked,
        "4.7.0": .securityError, "4.7.1": .blocked, "4.7.24": .authFailure, "4.7.25": .requirePTR, "4.7.26": .authFailure,
        "4.7.28": .rateLimited, "4.7.500": .rateLimited, "4.7.650": .blocked,
    ]
}
