import KilnCore

/// Finds the reply that ended a transaction in the server lines that curl's debug
/// callback saw (`CURLINFO_HEADER_IN`): the last complete reply, with its continuation
/// lines.
enum SMTPReplyCapture {
    /// The reply that decided the transaction: the last one, passing over the 221 that
    /// answers QUIT when curl closes the connection after a failure.
    static func decidingReply(in bytes: [UInt8]) -> SMTPReply? {
        var replies = allReplies(in: bytes)
        while let last = replies.last, last.code == 221, replies.count > 1 { replies.removeLast() }
        return replies.last
    }

    static func lastReply(in bytes: [UInt8]) -> SMTPReply? { allReplies(in: bytes).last }

    /// Every complete reply in order.
    static func allReplies(in bytes: [UInt8]) -> [SMTPReply] {
        let text = String(decoding: bytes, as: UTF8.self)
        let lines = text.split(omittingEmptySubsequences: true, whereSeparator: { $0 == "\r\n" || $0 == "\n" || $0 == "\r" })
        var replies: [SMTPReply] = []
        var group: [Substring] = []
        for line in lines where isReplyLine(line) {
            group.append(line)
            if !isContinuation(line) {
                if let reply = SMTPReply(parsing: group.joined(separator: "\n")) { replies.append(reply) }
                group.removeAll()
            }
        }
        return replies
    }

    static func isReplyLine(_ line: Substring) -> Bool {
        let bytes = Array(line.utf8.prefix(4))
        return bytes.count >= 3 && bytes[0...2].allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
    }

    static func isContinuation(_ line: Substring) -> Bool {
        isReplyLine(line) && line.utf8.count > 3 && line.utf8[line.utf8.index(line.utf8.startIndex, offsetBy: 3)] == UInt8(ascii: "-")
    }
}
