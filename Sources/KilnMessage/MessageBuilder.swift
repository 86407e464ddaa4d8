import KilnCore

/// A message to compose: addresses, subject, text and/or HTML body.
public struct MessageDraft: Sendable, Hashable {
    public var from: EmailAddress
    public var fromName: String?
    public var to: [EmailAddress]
    public var replyTo: EmailAddress?
    public var subject: String
    public var text: String?
    public var html: String?
    /// Extra headers (name, value), checked for line breaks.
    public var headers: [(String, String)] { extraHeaders.map { ($0.name, $0.value) } }
    public var extraHeaders: [Header]
    /// Files sent with the message (multipart/mixed around the body).
    public var attachments: [Attachment] = []

    public struct Attachment: Sendable, Hashable {
        public var filename: String
        /// A MIME type such as `application/pdf`.
        public var contentType: String
        public var data: [UInt8]
        public init(filename: String, contentType: String, data: [UInt8]) {
            self.filename = filename
            self.contentType = contentType
            self.data = data
        }
    }

    public struct Header: Sendable, Hashable {
        public var name: String
        public var value: String
        public init(_ name: String, _ value: String) {
            self.name = name
            self.value = value
        }
    }

    public init(from: EmailAddress, fromName: String? = nil, to: [EmailAddress], replyTo: EmailAddress? = nil, subject: String, text: String? = nil, html: String? = nil, extraHeaders: [Header] = [], attachments: [Attachment] = []) {
        self.attachments = attachments
        self.from = from
        self.fromName = fromName
        self.to = to
        self.replyTo = replyTo
        self.subject = subject
        self.text = text
        self.html = html
        self.extraHeaders = extraHeaders
    }
}

/// Composes RFC 5322 / MIME messages: CRLF line ends, no line over 998 octets, folded
/// headers, RFC 2047 header words, quoted-printable bodies, multipart/alternative for
/// text and HTML.
public enum MessageBuilder {
    /// - Parameters:
    ///   - date: the Date header's time.
    ///   - messageID: the Message-ID without angle brackets (`unique@domain`).
    ///   - boundarySeed: makes the MIME boundary unique (e.g. the message id's random part).
    ///   - prefix: header lines to put in front (the bulk headers): the message is built
    ///     in one buffer behind them, instead of being copied behind them afterwards.
    public static func compose(_ draft: MessageDraft, date: Timestamp, messageID: String, boundarySeed: String,
                               prefix: [UInt8] = []) throws(KilnError) -> [UInt8] {
        guard draft.text != nil || draft.html != nil else {
            throw KilnError(.invalidMessage, "a message needs a text or an HTML body", location: "body")
        }
        var head = ""
        head += try HeaderField.line("From", try HeaderField.mailbox(draft.from, displayName: draft.fromName, field: "From"))
        head += try HeaderField.line("To", draft.to.map(\.description).joined(separator: ", "))
        if let replyTo = draft.replyTo { head += try HeaderField.line("Reply-To", replyTo.description) }
        head += try HeaderField.line("Subject", HeaderField.encodedWords(try HeaderField.checked(draft.subject, field: "Subject")))
        head += try HeaderField.line("Date", RFC5322Date.format(date))
        head += try HeaderField.line("Message-ID", "<\(try HeaderField.checked(messageID, field: "Message-ID"))>")
        head += "MIME-Version: 1.0\r\n"
        for header in draft.extraHeaders {
            guard !header.name.isEmpty, header.name.utf8.allSatisfy({ $0 > 32 && $0 < 127 && $0 != UInt8(ascii: ":") }) else {
                throw KilnError(.invalidMessage, "'\(header.name)' is not a valid header name", location: "headers")
            }
            head += try HeaderField.line(header.name, HeaderField.encodedWords(try HeaderField.checked(header.value, field: header.name)))
        }
        var out = prefix
        // Quoted-printable may grow a body by a few percent; the rest is headers.
        out.reserveCapacity(prefix.count + head.utf8.count + (draft.text?.utf8.count ?? 0) * 11 / 10 + (draft.html?.utf8.count ?? 0) * 11 / 10 + 1024)
        out += head.utf8
        guard !draft.attachments.isEmpty else {
            appendBody(draft, boundarySeed: boundarySeed, to: &out)
            return out
        }
        let mixed = "=_kiln_mixed_\(boundarySeed)"
        out += Array("Content-Type: multipart/mixed; boundary=\"\(mixed)\"\r\n\r\n".utf8)
        out += Array("This is a multi-part message in MIME format.\r\n".utf8)
        out += "--\(mixed)\r\n".utf8
        appendBody(draft, boundarySeed: boundarySeed, to: &out)
        for (index, attachment) in draft.attachments.enumerated() {
            out += Array("\r\n--\(mixed)\r\n".utf8) + (try self.attachment(attachment, index: index))
        }
        out += Array("\r\n--\(mixed)--\r\n".utf8)
        return out
    }

    /// Appends the body part(s) to `out`: text, HTML, or multipart/alternative with
    /// both; ends in CRLF.
    static func appendBody(_ draft: MessageDraft, boundarySeed: String, to out: inout [UInt8]) {
        switch (draft.text, draft.html) {
        case let (text?, html?):
            let boundary = "=_kiln_\(boundarySeed)"
            out += "Content-Type: multipart/alternative; boundary=\"\(boundary)\"\r\n\r\n".utf8
            out += "This is a multi-part message in MIME format.\r\n".utf8
            out += "--\(boundary)\r\n".utf8
            appendPart(text, type: "text/plain", to: &out)
            out += "\r\n--\(boundary)\r\n".utf8
            appendPart(html, type: "text/html", to: &out)
            out += "\r\n--\(boundary)--\r\n".utf8
        case let (text?, nil):
            appendPart(text, type: "text/plain", to: &out)
            out += [13, 10]
        case let (nil, html?):
            appendPart(html, type: "text/html", to: &out)
            out += [13, 10]
        case (nil, nil):
            break
        }
    }

    /// An attachment part: base64 in 76-column lines; a non-ASCII filename is given as
    /// RFC 2231 `filename*=utf-8''...`.
    static func attachment(_ attachment: MessageDraft.Attachment, index: Int) throws(KilnError) -> [UInt8] {
        let place = "attachments[\(index)]"
        let type = try HeaderField.checked(attachment.contentType, field: place + ".contentType")
        guard type.split(separator: "/").count == 2, type.unicodeScalars.allSatisfy({ $0.value > 32 && $0.value < 127 && $0 != ";" && $0 != "\"" }) else {
            throw KilnError(.invalidMessage, "'\(type)' is not a MIME type", location: place + ".contentType")
        }
        let name = try HeaderField.checked(attachment.filename, field: place + ".filename")
        guard !name.isEmpty else { throw KilnError(.invalidMessage, "an attachment needs a file name", location: place + ".filename") }
        let plain = name.unicodeScalars.allSatisfy { $0.value >= 32 && $0.value < 127 && $0 != "\"" && $0 != "\\" }
        let parameter: String
        if plain {
            parameter = "filename=\"\(name)\""
        } else {
            var encoded = "utf-8''"
            for byte in name.utf8 {
                let c = Character(Unicode.Scalar(byte))
                if byte < 128, c.isLetter || c.isNumber || "-._~".contains(c) { encoded.append(c) } else { encoded += String(format2Hex: byte) }
            }
            parameter = "filename*=\(encoded)"
        }
        var out = Array("Content-Type: \(type)\r\nContent-Transfer-Encoding: base64\r\n".utf8)
        out += Array(try HeaderField.line("Content-Disposition", "attachment; \(parameter)").utf8)
        out += [13, 10]
        out += Base64.encodeBytes(attachment.data, lineLength: 76)
        out += [13, 10]
        return out
    }

    /// Appends part headers and a quoted-printable body (7bit when the text is plain
    /// short ASCII) to `out`.
    static func appendPart(_ body: String, type: String, to out: inout [UInt8]) {
        let start = out.count
        out += "Content-Type: \(type); charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n".utf8
        if appendSevenBit(body, to: &out) { return }
        out.removeSubrange(start...)
        out += "Content-Type: \(type); charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n".utf8
        out += QuotedPrintable.encode(body)
    }

    /// The body with CRLF line ends when it can go as 7bit: printable ASCII, lines of at
    /// most 998 octets (RFC 5322; most HTML qualifies), none starting with a dot or
    /// ending with a space; else nil.
    static func sevenBit(_ body: String) -> [UInt8]? {
        var out: [UInt8] = []
        return appendSevenBit(body, to: &out) ? out : nil
    }

    /// Appends `sevenBit(body)` to `out` and returns true; false (with `out` as it was)
    /// when the body cannot go as 7bit.
    static func appendSevenBit(_ body: String, to out: inout [UInt8]) -> Bool {
        var body = body
        let before = out.count
        let ok = body.withUTF8 { input -> Bool in
            guard let base = input.baseAddress else { return true }
            let raw = UnsafeRawPointer(base)
            let n = input.count
            // LF alone becomes CRLF; most bodies end their lines that way or with CRLF already.
            out.reserveCapacity(out.count + n + n / 16 + 2)
            var start = 0
            while start < n {
                // The line: up to the next CR or LF. Printable ASCII (space to tilde) is
                // passed over 8 bytes at a time, the rest byte by byte.
                var end = start
                while end + 8 <= n, ByteWords.allPrintable(ByteWords.load(raw, end)) { end += 8 }
                while end < n, input[end] != 10, input[end] != 13 {
                    let b = input[end]
                    if b &- 32 >= 95, b != 9 { return false }
                    end += 1
                }
                let length = end - start
                if length > 0 {
                    let last = input[end - 1]
                    if length > 998 || input[start] == 46 || last == 32 || last == 9 { return false }
                    out.append(contentsOf: UnsafeBufferPointer(start: base + start, count: length))
                }
                if end == n { break }
                out.append(13)
                out.append(10)
                start = end + ((input[end] == 13 && end + 1 < n && input[end + 1] == 10) ? 2 : 1)
            }
            return true
        }
        if !ok { out.removeSubrange(before...) }
        return ok
    }
}

extension String {
    /// `%XX` for one byte.
    init(format2Hex byte: UInt8) {
        let digits = Array("0123456789ABCDEF".utf8)
        self = "%" + String(decoding: [digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]], as: UTF8.self)
    }
}

/// RFC 5322 dates, `Tue, 24 Nov 2026 08:33:20 +0000`.
public enum RFC5322Date {
    static let days = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]
    static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    public static func format(_ time: Timestamp) -> String {
        let seconds = time.nanoseconds / 1_000_000_000
        let dayNumber = Int(seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400)
        let secondOfDay = Int(seconds - Int64(dayNumber) * 86_400)
        let (year, month, day) = civil(fromDays: dayNumber)
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let weekday = days[((dayNumber % 7) + 7) % 7]
        return "\(weekday), \(day) \(months[month - 1]) \(year) \(two(secondOfDay / 3600)):\(two(secondOfDay / 60 % 60)):\(two(secondOfDay % 60)) +0000"
    }

    /// Howard Hinnant's days-to-civil algorithm.
    static func civil(fromDays z0: Int) -> (Int, Int, Int) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (m <= 2 ? y + 1 : y, m, d)
    }
}
