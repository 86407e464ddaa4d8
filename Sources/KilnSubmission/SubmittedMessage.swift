import Foundation
import KilnCore

/// A message as an application handed it over SMTP (or as `raw` over HTTP): its header
/// block read for the From address and Kiln's own instructions, which are then removed,
/// and completed with the fields a submission server adds (RFC 6409 §8: Message-ID, Date).
public struct SubmittedMessage: Sendable {
    /// The header From's address.
    public var from: EmailAddress
    /// `X-Kiln-Configuration-Set:`.
    public var configurationSet: String?
    /// `X-Kiln-Transactional: 1` (or `true`, `yes`).
    public var transactional: Bool
    /// The message without `X-Kiln-*` fields, with Message-ID and Date when it had none.
    public var data: [UInt8]

    /// Reads and completes `raw`. Throws `.invalid` naming the problem: no header block,
    /// no From or several, a From that is not an address, a header block over `maxHeaderBytes`.
    /// - Parameters:
    ///   - uniqueID: the Message-ID's left part when one is added.
    ///   - date: the time for a Date field when one is added.
    public init(raw: [UInt8], maxHeaderBytes: Int = 1 << 20, uniqueID: String, date: Timestamp) throws(SubmissionRefusal) {
        guard let end = Self.endOfHeader(raw) else {
            throw SubmissionRefusal(.invalid(path: "raw"), "the message has no header block ending in a blank line")
        }
        guard end.headerEnd <= maxHeaderBytes else {
            throw SubmissionRefusal(.invalid(path: "raw"), "the header block is over \(maxHeaderBytes) bytes")
        }
        let fields = Self.fields(raw[..<end.headerEnd])
        var from: [String] = []
        var configurationSet: String?
        var transactional = false
        var hasMessageID = false, hasDate = false
        var kept: [UInt8] = []
        kept.reserveCapacity(raw.count + 128)
        for field in fields {
            let name = field.name.lowercased()
            switch name {
            case "from": from.append(field.value)
            case "message-id": hasMessageID = true
            case "date": hasDate = true
            case "x-kiln-configuration-set": configurationSet = field.value.trimmingCharacters(in: .whitespaces)
            case "x-kiln-transactional": transactional = ["1", "true", "yes"].contains(field.value.trimmingCharacters(in: .whitespaces).lowercased())
            default: break
            }
            if !name.hasPrefix("x-kiln-") { kept += field.raw }
        }
        guard from.count == 1 else {
            throw SubmissionRefusal(.invalid(path: "raw"), from.isEmpty ? "the message has no From header" : "the message has \(from.count) From headers")
        }
        guard let address = Self.address(inFrom: from[0]) else {
            throw SubmissionRefusal(.invalid(path: "raw"), "the From header '\(from[0].prefix(200).escapingControlCharacters)' does not hold one address")
        }
        var added = ""
        if !hasMessageID { added += "Message-ID: <\(uniqueID)@\(address.domain)>\r\n" }
        if !hasDate { added += "Date: \(Self.rfc5322Date(date))\r\n" }
        self.from = address
        self.configurationSet = configurationSet?.isEmpty == true ? nil : configurationSet
        self.transactional = transactional
        self.data = Array(added.utf8) + kept + raw[end.headerEnd...]
    }

    /// Where the header block ends: the offset just after its last field's line break
    /// (the blank line follows).
    static func endOfHeader(_ bytes: [UInt8]) -> (headerEnd: Int, Void)? {
        var i = 0
        var lineStart = 0
        while i < bytes.count {
            if bytes[i] == 10 {
                let line = bytes[lineStart..<i]
                if line.isEmpty || (line.count == 1 && line.first == 13) { return lineStart == 0 ? nil : (lineStart, ()) }
                lineStart = i + 1
            }
            i += 1
        }
        return nil
    }

    struct Field {
        var name: String
        /// The unfolded value.
        var value: String
        /// The field's bytes as received, line breaks included.
        var raw: ArraySlice<UInt8>
    }

    /// The header block's fields (continuation lines folded into the field before them).
    static func fields(_ header: ArraySlice<UInt8>) -> [Field] {
        var fields: [Field] = []
        var start = header.startIndex
        var i = header.startIndex
        func finish(_ end: Int) {
            guard start < end else { return }
            let raw = header[start..<end]
            let text = String(decoding: raw, as: UTF8.self)
            if let colon = text.firstIndex(of: ":") {
                let value = text[text.index(after: colon)...].replacingOccurrences(of: "\r\n", with: "").replacingOccurrences(of: "\n", with: "")
                fields.append(Field(name: String(text[..<colon]).trimmingCharacters(in: .whitespaces), value: value.trimmingCharacters(in: .whitespaces), raw: raw))
            } else {
                fields.append(Field(name: "", value: "", raw: raw))
            }
        }
        while i < header.endIndex {
            if header[i] == 10, i + 1 < header.endIndex, header[i + 1] != 32, header[i + 1] != 9 {
                finish(i + 1)
                start = i + 1
            }
            i += 1
        }
        finish(header.endIndex)
        return fields
    }

    /// The one address of a From field: `Name <a@b>`, `<a@b>` or `a@b` (comments dropped);
    /// nil for a group or a list.
    static func address(inFrom value: String) -> EmailAddress? {
        var text = value
        if let open = text.lastIndex(of: "<"), let close = text.lastIndex(of: ">"), open < close {
            text = String(text[text.index(after: open)..<close])
        } else {
            // Remove comments: a@b (Name).
            while let open = text.firstIndex(of: "("), let close = text[open...].firstIndex(of: ")") { text.removeSubrange(open...close) }
            guard !text.contains(","), !text.contains(";") else { return nil }
        }
        return try? EmailAddress(text.trimmingCharacters(in: .whitespaces))
    }

    /// `Mon, 07 Dec 2026 10:00:00 +0000` (RFC 5322 §3.3), UTC.
    public static func rfc5322Date(_ time: Timestamp) -> String {
        let seconds = time.nanoseconds / 1_000_000_000
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let ofDay = seconds - days * 86_400
        let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][Int(((days % 7) + 7) % 7)]
        let iso = EventRecord.rfc3339(time)  // YYYY-MM-DDTHH:MM:SS.mmmZ
        let parts = iso.prefix(10).split(separator: "-")
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func pad(_ v: Int64) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(weekday), \(parts[2]) \(months[(Int(parts[1]) ?? 1) - 1]) \(parts[0]) \(pad(ofDay / 3600)):\(pad(ofDay / 60 % 60)):\(pad(ofDay % 60)) +0000"
    }
}
