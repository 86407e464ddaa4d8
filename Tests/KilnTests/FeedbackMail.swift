import KilnCore

/// Returned messages for engine tests: a DSN (RFC 3464) and an ARF complaint (RFC 5965).
enum FeedbackMail {
    static func dsn(for recipient: String, messageID: MessageID, status: String, diagnostic: String) -> [UInt8] {
        dsn(for: recipient, returnPath: EngineHarness.returnPath(messageID), status: status, diagnostic: diagnostic)
    }

    static func dsn(for recipient: String, returnPath: String, status: String = "5.1.1", diagnostic: String = "550 5.1.1 user unknown",
                    originalRecipient: String? = nil) -> [UInt8] {
        Array("""
        From: MAILER-DAEMON@mx.example.net\r
        To: \(returnPath)\r
        Subject: Undelivered Mail Returned to Sender\r
        MIME-Version: 1.0\r
        Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r
        \r
        --B\r
        Content-Type: message/delivery-status\r
        \r
        Reporting-MTA: dns; mx.example.net\r
        \r
        Final-Recipient: rfc822; \(recipient)\r\(originalRecipient.map { "\nOriginal-Recipient: rfc822; \($0)\r" } ?? "")
        Action: failed\r
        Status: \(status)\r
        Diagnostic-Code: smtp; \(diagnostic)\r
        \r
        --B--\r

        """.utf8)
    }

    static func arf(for recipient: String, type: String = "abuse", returnPath: String? = nil) -> [UInt8] {
        Array("""
        From: fbl@isp.example\r
        To: fbl@example.com\r
        Subject: complaint\r
        MIME-Version: 1.0\r
        Content-Type: multipart/report; report-type=feedback-report; boundary="R"\r
        \r
        --R\r
        Content-Type: message/feedback-report\r
        \r
        Feedback-Type: \(type)\r
        Version: 1\r
        Original-Rcpt-To: \(recipient)\r\(returnPath.map { "\nOriginal-Mail-From: <\($0)>\r" } ?? "")
        \r
        --R--\r

        """.utf8)
    }
}
