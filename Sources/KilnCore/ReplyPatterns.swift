/// Reply codes and text patterns of real receivers, kept in one place. Text patterns are
/// lower-case and matched as substrings of the lower-cased reply text.
public enum ReplyPatterns {
    /// Enhanced statuses that mean "slow down" on their own.
    /// 4.7.28: Gmail's unusual rate of unsolicited mail; 4.7.500-4.7.699: Microsoft's
    /// server busy and rate limits by IP reputation (AS codes).
    public static let throttleStatuses: Set<String> = [
        "4.7.28", "4.7.26", "4.7.32", "4.7.500", "4.7.650", "4.7.651", "4.7.652", "4.3.2",
    ]

    /// Rate, volume and reputation deferrals.
    public static let throttleText: [String] = [
        "unusual rate", "rate that prevents", "rate limit", "rate-limit", "ratelimit",
        "too many messages", "too much mail", "too many recipients this session", "unexpected volume",
        "[ts01]", "[ts02]", "[ts03]", "[tss04]", "[tss09]", "temporarily deferred due to",
        "server busy", "exceeded the maximum", "sending rate", "throttl",
        "reputation", "rl000001", "try to reduce", "slow down", "[cs01]", "[cs02]", "[cs03]",
    ]

    /// Deferrals that are about the number of connections rather than the volume.
    public static let connectionThrottleText: [String] = [
        "too many connections", "too many concurrent", "connection limit", "too many sessions",
    ]

    /// Greylisting: retry the same message later, nothing is wrong with the IP.
    public static let greylisting: [String] = ["greylist", "graylist", "grey-list", "gray-list", "please try again later (greylisted"]

    /// Enhanced statuses that mean the address itself is bad.
    /// 5.1.1 bad mailbox, 5.1.2 bad domain, 5.1.3 bad address syntax, 5.1.6 moved,
    /// 5.1.10 null MX (RFC 7505), 5.2.1 mailbox disabled, 5.4.1 recipient rejected by
    /// the domain's directory (Exchange Online), 5.4.4 domain cannot be routed.
    public static let userStatuses: Set<String> = [
        "5.1.0", "5.1.1", "5.1.2", "5.1.3", "5.1.6", "5.1.10", "5.2.1", "5.4.1", "5.4.4",
    ]

    /// Address-is-bad texts for replies without an enhanced status.
    public static let userText: [String] = [
        "user unknown", "unknown user", "no such user", "no such mailbox", "does not exist",
        "doesn't exist", "mailbox not found", "recipient not found", "invalid recipient",
        "address rejected: user", "unknown recipient", "mailbox unavailable: user",
        "account disabled", "account has been disabled", "is disabled", "not a valid mailbox",
        "user not found", "no mailbox here", "recipient address rejected: undeliverable",
        "address does not exist", "mailbox is inactive", "no longer available",
        "mailbox unavailable", "doesn't have a", "does not have an account",
    ]

    /// Policy, reputation, authentication and content rejections.
    public static let policyText: [String] = [
        "block", "blacklist", "spamhaus", "spamcop", "barracuda", "reputation", "spam",
        "policy", "dmarc", "spf", "dkim", "not authorized", "unauthenticated", "banned",
        "denied", "rejected due to", "abuse", "poor reputation", "listed", "rbl",
        "content", "5.7.1", "prohibited",
    ]
}

/// Real replies from large mailbox providers, for tests, documentation and the
/// simulation's providers.
public enum ProviderReplies {
    public static let gmailThrottle = "421-4.7.28 [192.0.2.10] Our system has detected an unusual rate of unsolicited mail originating from your IP address. To protect our users from spam, mail sent from your IP address has been temporarily rate limited. 421 4.7.28 https://support.google.com/mail/?p=UnsolicitedRateLimitError"
    public static let gmailRateLimit = "450-4.2.1 The user you are trying to contact is receiving mail at a rate that prevents additional messages from being delivered. Please resend your message at a later point."
    public static let gmailBlock = "550-5.7.1 [192.0.2.10] Our system has detected that this message is likely unsolicited mail. To reduce the amount of spam sent to Gmail, this message has been blocked."
    public static let gmailUserUnknown = "550-5.1.1 The email account that you tried to reach does not exist. Please try double-checking the recipient's email address for typos or unnecessary spaces."
    public static let yahooThrottle = "421 4.7.0 [TSS04] Messages from 192.0.2.10 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes"
    public static let yahooBlock = "554 5.7.9 Message not accepted for policy reasons.  See https://postmaster.yahooinc.com/error-codes"
    public static let yahooUserUnknown = "554 delivery error: dd This user doesn't have a yahoo.com account (someone@yahoo.com) [0] - mta1234.mail.ne1.yahoo.com"
    public static let microsoftBusy = "451 4.7.500 Server busy. Please try again later from [192.0.2.10]. (AS843)"
    public static let microsoftRateLimited = "451 4.7.650 The mail server [192.0.2.10] has been temporarily rate limited due to IP reputation. For e-mail delivery information, see https://postmaster.live.com (S775)"
    public static let microsoftBlock = "550 5.7.1 Unfortunately, messages from [192.0.2.10] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3150)."
    public static let microsoftUserUnknown = "550 5.5.0 Requested action not taken: mailbox unavailable (S2017062302)."
    public static let appleThrottle = "421 4.7.0 [CS01] Message rejected due to local policy. Please visit https://support.apple.com/en-us/HT204137"
    public static let appleBlock = "554 5.7.1 [CS01] Message rejected due to local policy. Please visit https://support.apple.com/en-us/HT204137"
    public static let greylisted = "451 4.7.1 Greylisted, please try again later"
}
