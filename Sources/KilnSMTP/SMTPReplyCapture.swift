import KilnCore

/// Finds the reply that ended a transaction in the server lines that curl's header
/// callback saw: the last complete reply, with its continuation lines.
///
/// It runs once per message on a transfer thread, over a transcript that may hold a
/// greeting and a long EHLO reply, so it works on the bytes: it finds where each reply
/// lies and parses only the one it returns.
enum SMTPReplyCapture {
    /// Where one complete reply lies in a transcript: from its first line to the end of
    /// its last, with the code of its first line.
    struct Span: Equatable {
        var bytes: Range<Int>
        var code: Int
    }

    /// The reply that decided the transaction: the last one, passing over the 221 that
    /// answers QUIT when curl closes the connection after a failure.
    static func decidingReply(in bytes: [UInt8]) -> SMTPReply? {
        let spans = replySpans(in: bytes)
        guard var index = spans.indices.last else { return nil }
        while index > 0, spans[index].code == 221 { index -= 1 }
        return reply(spans[index], in: bytes)
    }

    static func lastReply(in bytes: [UInt8]) -> SMTPReply? {
        replySpans(in: bytes).last.flatMap { reply($0, in: bytes) }
    }

    /// Every complete reply in order.
    static func allReplies(in bytes: [UInt8]) -> [SMTPReply] {
        replySpans(in: bytes).compactMap { reply($0, in: bytes) }
    }

    /// Where every complete reply lies. A line is a reply line when it starts with three
    /// digits; `ddd-` continues the reply (RFC 5321 §4.2.1), any other reply line ends
    /// it. Lines end at CR, LF or CRLF; a reply cut off before its last line is left out.
    static func replySpans(in bytes: [UInt8]) -> [Span] {
        var spans: [Span] = []
        var open: Span?
        var lineStart = 0
        while lineStart < bytes.count {
            var lineEnd = lineStart
            while lineEnd < bytes.count, bytes[lineEnd] != UInt8(ascii: "\n"), bytes[lineEnd] != UInt8(ascii: "\r") {
                lineEnd += 1
            }
            if let code = replyCode(bytes, from: lineStart, to: lineEnd) {
                var span = open ?? Span(bytes: lineStart..<lineEnd, code: code)
                span.bytes = span.bytes.lowerBound..<lineEnd
                let continues = lineEnd - lineStart > 3 && bytes[lineStart + 3] == UInt8(ascii: "-")
                if continues { open = span } else { spans.append(span); open = nil }
            }
            lineStart = lineEnd + 1
        }
        return spans
    }

    static func reply(_ span: Span, in bytes: [UInt8]) -> SMTPReply? {
        SMTPReply(parsing: String(decoding: bytes[span.bytes], as: UTF8.self))
    }

    static func replyCode(_ bytes: [UInt8], from start: Int, to end: Int) -> Int? {
        guard end - start >= 3 else { return nil }
        var code = 0
        for byte in bytes[start..<start + 3] {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            code = code * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return code
    }
}
