@testable import KilnCore
import Testing

/// `SMTPReply(parsing:)` works on bytes. This compares it with the Character-based parser
/// it replaced, kept here as the reference, on random transcripts built from reply-shaped
/// pieces: codes, `-` and space after them, enhanced statuses and near misses, spaces,
/// every line end, and non-ASCII text.
@Suite struct SMTPReplyParsingEquivalenceTests {
    /// The parser as it was before it moved to bytes.
    static func reference(_ raw: String) -> SMTPReply? {
        var code: Int?
        var status: String?
        var texts: [Substring] = []
        for line in raw.split(omittingEmptySubsequences: true, whereSeparator: { $0 == "\n" || $0 == "\r" || $0 == "\r\n" }) {
            let chars = Array(line.utf8.prefix(4))
            guard chars.count >= 3, chars[0...2].allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                  let lineCode = Int(line.prefix(3)) else { continue }
            if code == nil { code = lineCode } else if code != lineCode { continue }
            var rest = line.dropFirst(3)
            if let first = rest.first, first == "-" || first == " " { rest = rest.dropFirst() }
            rest = rest.drop(while: { $0 == " " })
            let word = rest.prefix(while: { $0 != " " })
            if SMTPReply.isEnhancedStatus(word) {
                if status == nil { status = String(word) }
                rest = rest.dropFirst(word.count).drop(while: { $0 == " " })
            }
            if !rest.isEmpty { texts.append(Substring(rest)) }
        }
        guard let code else { return nil }
        let text = texts.joined(separator: " ")
        return SMTPReply(code: code, enhancedStatus: status ?? SMTPReply.findStatus(in: text, code: code), text: text)
    }

    static let pieces = [
        "250", "421", "550", "451", "221", "354", "55", "5500", "-", " ", "  ", "5.7.1", "4.7.28", "2.0.0", "5.1.1.", "5..1",
        "4.7.1234", "6.1.1", "5.7.", "#5.1.0", "[4.4.5]", "ok", "queued as 4XyZ", "Try again later", "é", "日本", "👍",
        "\r\n", "\n", "\r", "\r\r\n", ".", "x",
    ]

    @Test func bytesAndCharactersAgreeOnRandomTranscripts() {
        var random = SeededRandom(seed: 5321)
        for _ in 0..<5_000 {
            var raw = ""
            for _ in 0..<(1 + random.next() % 14) { raw += Self.pieces[Int(random.next() % UInt64(Self.pieces.count))] }
            #expect(SMTPReply(parsing: raw) == Self.reference(raw), "\(raw.debugDescription)")
        }
    }

    @Test func realRepliesAgree() {
        let replies = [
            "250 2.0.0 Ok: queued as 4Q1",
            "550-5.7.1 [192.0.2.1] Our system has detected\r\n550-5.7.1 an unusual rate.\r\n550 5.7.1 https://support.google.com",
            "421 4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected volume",
            "451 Temporary local problem - please try later",
            "554 rejected: #5.7.1 blocked",
            "220 mx.example ESMTP\r\n250-mx.example\r\n250-PIPELINING\r\n250 SIZE 10240000\r\n250 2.1.0 Ok\r\n",
        ]
        for raw in replies { #expect(SMTPReply(parsing: raw) == Self.reference(raw), "\(raw.debugDescription)") }
    }

    /// The one place where they differ on purpose: an enhanced status is ASCII digits
    /// (RFC 3463), where `Character.isNumber` also took other scripts' digits.
    @Test func anEnhancedStatusIsASCIIDigits() {
        #expect(SMTPReply(parsing: "550 5.٧.1 no")?.enhancedStatus == nil)
        #expect(SMTPReply(parsing: "550 5.7.1 no")?.enhancedStatus == "5.7.1")
    }
}
