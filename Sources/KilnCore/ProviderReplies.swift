/// Real replies from large mailbox providers, for tests, documentation and the
/// simulation's providers.
public enum ProviderReplies {
    public static let gmailThrottle = "421-4.7.28 [192.0.2.10] Our system has detected an unusual rate of unsolicited mail originating from your IP address. To protect our users from spam, mail sent from your IP address has been temporarily rate limited. 421 4.7.28 https://support.google.com/mail/?p=UnsolicitedRateLimitError"
    public static let gmailRateLimit = "450-4.2.1 The user you are trying to contact is receiving mail at a rate that prevents additional messages from being delivered. Please resend your message at a later point."
    public static let gmailBlock = "550-5.7.1 [192.0.2.10] Our system has detected that this message is likely suspicious due to the very low reputation of the sending IP address. To best protect our users from spam, the message has been blocked."
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
