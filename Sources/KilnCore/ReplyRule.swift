/// Why a reply failed, in the vocabulary of the sisimai project's bounce reasons (plus
/// `ratelimited`, `recipientrate` and `sessionlimit`, which sisimai folds into `speeding`
/// and `toomanyconn`, and which Kiln acts on differently).
public enum ReplyReason: String, Sendable, Codable, CaseIterable {
    case accepted
    /// The mailbox does not exist (X.1.1, X.1.3, X.1.4).
    case userUnknown = "userunknown"
    /// The recipient's domain does not exist or takes no mail (X.1.2, X.1.10, RFC 7505).
    case hostUnknown = "hostunknown"
    /// The mailbox moved (X.1.6, X.7.17).
    case hasMoved = "hasmoved"
    /// The mailbox is disabled or locked (X.2.1 without words that it does not exist).
    case suspend
    /// The mailbox is full (X.2.2).
    case mailboxFull = "mailboxfull"
    /// The sending IP (or the sending domain) is blocked: a block list, the provider's
    /// own block, bad reputation.
    case blocked
    /// The sending IP needs a reverse DNS name (X.7.25).
    case requirePTR = "requireptr"
    /// Too many messages from the IP (or the sending domain) in some period.
    case rateLimited = "ratelimited"
    /// One recipient receives mail too quickly: only that recipient waits.
    case recipientRate = "recipientrate"
    /// Too many connections at once from the IP.
    case tooManyConnections = "toomanyconn"
    /// Too many messages or recipients on one connection or session.
    case sessionLimit = "sessionlimit"
    /// The sending domain fails SPF, DKIM, DMARC or ARC (X.7.20-X.7.27, X.7.29).
    case authFailure = "authfailure"
    /// The sender address or its domain is refused (X.1.7, X.1.8).
    case rejected
    /// The message looks like spam.
    case spamDetected = "spamdetected"
    case virusDetected = "virusdetected"
    /// The content or the media type is refused (X.6.x).
    case contentError = "contenterror"
    /// The message is too big (X.3.4, X.2.3).
    case messageTooBig = "mesgtoobig"
    /// A policy refusal with no more precise reason (X.7.1 alone).
    case policy
    /// Greylisting (RFC 6647): the same message later is accepted.
    case greylisted
    /// TLS is required (X.7.10, X.7.11).
    case failedStartTLS = "failedstarttls"
    /// The receiver is not a relay for the recipient's domain.
    case noRelaying = "norelaying"
    /// The receiving system failed or is busy (X.3.x).
    case systemError = "systemerror"
    /// The connection or the route failed (X.4.x).
    case networkError = "networkerror"
    /// The receiver refused a command or its syntax (X.5.x).
    case syntaxError = "syntaxerror"
    /// The delivery timed out in a queue (X.4.7).
    case expired
    /// An operator rule decided (`replyRules` in the configuration).
    case operatorRule = "operator"
    // Reasons that a bounce report (a DSN) names and an SMTP reply rarely does:
    /// The recipient's own filter refused it.
    case filtered
    /// A security or authorization refusal that is not authentication (X.7.0).
    case securityError = "securityerror"
    /// The receiving system is out of storage (X.3.1).
    case systemFull = "systemfull"
    /// The local delivery program failed (a mailer or pipe error).
    case mailerError = "mailererror"
    /// Held: the report does not say enough to decide.
    case onHold = "onhold"
    /// The message breaks RFC 5322 (duplicate or malformed header fields).
    case notCompliantRFC = "notcompliantrfc"
    case undefined

    /// Whether the reason says the address itself is bad (it does not exist, its domain
    /// does not exist or accepts no mail, it moved). Only then is a recipient suppressed
    /// for good: policy, reputation, content, a full mailbox and expiry are not about the
    /// address.
    public var isAddressBad: Bool {
        switch self {
        case .userUnknown, .hostUnknown, .hasMoved: true
        default: false
        }
    }
}

/// One line of the reply table: when a reply matches (provider, code, enhanced status,
/// text), it means this class, scope and reason. `source` names where the rule comes
/// from: an RFC section, a provider's postmaster page, or the MTAs seen writing it.
public struct ReplyRule: Sendable {
    /// Which reply codes a rule applies to.
    public enum Codes: Sendable, Hashable {
        /// Any code.
        case any
        /// 4xx only.
        case transient
        /// 5xx only.
        case permanent
    }

    public let id: String
    /// A provider id (`gmail`, `yahoo`, ...): the rule is skipped for replies known to come
    /// from another provider, and applies when the provider is not known.
    public let provider: String?
    public let codes: Codes
    /// An enhanced status pattern: `X.7.26` (X is 4 or 5), `5.1.1`, `X.7.*`, or alternatives
    /// `X.7.20|X.7.21`; nil for any.
    public let status: String?
    /// Lower-case phrases, any of which must be in the lower-cased reply (code, status and
    /// text); empty for none required.
    public let text: [String]
    /// `text` as UTF-8, searched byte by byte.
    let patterns: [[UInt8]]
    public let replyClass: ReplyClass
    public let scope: ReplyScope
    public let reason: ReplyReason
    public let source: String
    /// Vague words ("try later", "denied"): they decide only a reply without a status or
    /// with a vague one (X.0.x, X.Y.0 "other or undefined", X.7.x); a precise status of
    /// another subject says more (RFC 3463).
    public let vague: Bool

    public init(_ id: String, provider: String? = nil, codes: Codes = .any, status: String? = nil, _ text: [String],
                _ replyClass: ReplyClass, _ scope: ReplyScope, _ reason: ReplyReason, source: String, vague: Bool = false) {
        self.id = id
        self.provider = provider
        self.codes = codes
        self.status = status
        self.text = text
        patterns = text.map { Array($0.utf8) }
        self.replyClass = replyClass
        self.scope = scope
        self.reason = reason
        self.source = source
        self.vague = vague
    }

    /// Whether the rule applies to a reply with this code, status and lower-cased text
    /// (UTF-8), from `provider` (nil: not known).
    public func matches(code: Int, status: String?, lowered: [UInt8], provider: String?) -> Bool {
        if let own = self.provider, let provider, own != provider { return false }
        switch codes {
        case .any: break
        case .transient: guard (400..<500).contains(code) else { return false }
        case .permanent: guard code >= 500 else { return false }
        }
        if let pattern = self.status {
            guard let status, Self.statusMatches(status, pattern) else { return false }
        }
        if vague, let status, !Self.statusMatches(status, "X.0.*|X.*.0|X.7.*") { return false }
        return patterns.isEmpty || patterns.contains { Self.includes(lowered, $0) }
    }

    /// Whether `needle` occurs in `haystack` (both short: a reply and a phrase).
    static func includes(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        let n = haystack.count, m = needle.count
        guard m > 0 else { return true }
        guard m <= n else { return false }
        return haystack.withUnsafeBufferPointer { h in
            needle.withUnsafeBufferPointer { p in
                let first = p[0]
                var i = 0
                while i <= n - m {
                    if h[i] == first {
                        var j = 1
                        while j < m, h[i + j] == p[j] { j += 1 }
                        if j == m { return true }
                    }
                    i += 1
                }
                return false
            }
        }
    }

    /// `X.7.26` matches 4.7.26 and 5.7.26; `X.7.*` any X.7 status; `5.1.1` only itself;
    /// `X.7.20|X.7.21` either.
    static func statusMatches(_ status: String, _ pattern: String) -> Bool {
        if pattern.contains("|") { return pattern.split(separator: "|").contains { statusMatches(status, String($0)) } }
        let have = status.split(separator: ".")
        let want = pattern.split(separator: ".")
        guard have.count == 3, want.count == 3 else { return false }
        for (h, w) in zip(have, want) where w != "*" && !(w == "X" && (h == "4" || h == "5")) && h != w {
            return false
        }
        return true
    }
}
