import KilnSubmission
import Testing

@Suite struct RefusalTests {
    @Test func eachRefusalHasItsSMTPReplyAndHTTPStatus() {
        #expect(SubmissionRefusal(.tlsRequired, "Must issue a STARTTLS command first").smtpReply == "538 5.7.11 Must issue a STARTTLS command first")
        #expect(SubmissionRefusal(.overQuota(retryAfter: 3), "over quota").smtpReply.hasPrefix("451 4.7.1 "))
        #expect(SubmissionRefusal(.overQuota(retryAfter: 3), "over quota").httpStatus == 429)
        #expect(SubmissionRefusal(.overQuota(retryAfter: 3), "over quota").retryAfter == 3)
        #expect(SubmissionRefusal(.tooBig, "too big").smtpReply.hasPrefix("552 5.3.4 "))
        #expect(SubmissionRefusal(.tooManyRecipients, "too many").smtpReply.hasPrefix("452 4.5.3 "))
        #expect(SubmissionRefusal(.forbiddenSender, "no").smtpReply.hasPrefix("550 5.7.1 "))
        #expect(SubmissionRefusal(.badCredentials, "no").smtpReply.hasPrefix("535 5.7.8 "))
        #expect(SubmissionRefusal(.authenticationRequired, "no").smtpReply.hasPrefix("530 5.7.0 "))
    }
}
