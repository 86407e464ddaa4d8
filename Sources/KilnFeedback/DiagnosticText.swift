/// Small readers for the free text of bounces: enhanced statuses, reply codes, addresses.
enum DiagnosticText {
    /// The first enhanced status code (RFC 3463 `class.subject.detail`) in the text.
    static func status(in text: String) -> String? {
        let bytes = Array(text.utf8)
        var i = 0
        while i < bytes.count {
            let byte = bytes[i]
            if (byte == UInt8(ascii: "2") || byte == UInt8(ascii: "4") || byte == UInt8(ascii: "5")),
               i + 1 < bytes.count, bytes[i + 1] == UInt8(ascii: "."), i == 0 || !isStatusNeighbour(bytes[i - 1]) {
                var j = i + 2
                let subjectStart = j
                while j < bytes.count, isDigit(bytes[j]), j - subjectStart < 3 { j += 1 }
                if j > subjectStart, j < bytes.count, bytes[j] == UInt8(ascii: ".") {
                    let detailStart = j + 1
                    var k = detailStart
                    while k < bytes.count, isDigit(bytes[k]), k - detailStart < 3 { k += 1 }
                    if k > detailStart, k == bytes.count || !isStatusNeighbour(bytes[k]) {
                        return String(decoding: bytes[i..<k], as: UTF8.self)
                    }
                }
            }
            i += 1
        }
        return nil
    }

    /// The first three-digit SMTP reply code (2xx, 4xx, 5xx) standing alone in the text.
    static func replyCode(in text: String) -> Int? {
        let bytes = Array(text.utf8)
        var i = 0
        while i + 2 < bytes.count {
            let first = bytes[i]
            if (first == UInt8(ascii: "4") || first == UInt8(ascii: "5")), isDigit(bytes[i + 1]), isDigit(bytes[i + 2]),
               bytes[i + 1] <= UInt8(ascii: "5"),
               i == 0 || !(isDigit(bytes[i - 1]) || bytes[i - 1] == UInt8(ascii: ".") || isLetter(bytes[i - 1]) || bytes[i - 1] == UInt8(ascii: "#") || bytes[i - 1] == UInt8(ascii: "-")),
               i + 3 == bytes.count || bytes[i + 3] == UInt8(ascii: " ") || bytes[i + 3] == UInt8(ascii: "-") || bytes[i + 3] == UInt8(ascii: "\n") {
                return Int(String(decoding: bytes[i..<i + 3], as: UTF8.self))
            }
            i += 1
        }
        return nil
    }

    static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }
    static func isLetter(_ byte: UInt8) -> Bool { (byte | 0x20) >= UInt8(ascii: "a") && (byte | 0x20) <= UInt8(ascii: "z") }
    static func isStatusNeighbour(_ byte: UInt8) -> Bool { isDigit(byte) || byte == UInt8(ascii: ".") || isLetter(byte) }

    /// Every address in the text, in order of appearance, with the offset (in UTF-8 bytes)
    /// where it starts. Only addresses whose domain has a dot and a top-level label of
    /// letters count; an Exchange `smtp=` before the local part is not part of it.
    static func addresses(in text: String) -> [(address: String, offset: Int)] {
        let bytes = Array(text.utf8)
        var out: [(String, Int)] = []
        var i = 0
        while i < bytes.count {
            guard bytes[i] == UInt8(ascii: "@") else { i += 1; continue }
            var start = i
            while start > 0, isLocalByte(bytes[start - 1]) { start -= 1 }
            while start < i, bytes[start] == UInt8(ascii: ".") { start += 1 }
            // Exchange glues its address type on: `smtp=ann@example.com` (`SMTP:` stops the scan at the colon).
            if i - start > 5, String(decoding: bytes[start..<start + 5], as: UTF8.self).lowercased() == "smtp=" { start += 5 }
            var end = i + 1
            while end < bytes.count, isDomainByte(bytes[end]) { end += 1 }
            while end > i + 1, bytes[end - 1] == UInt8(ascii: ".") || bytes[end - 1] == UInt8(ascii: "-") { end -= 1 }
            let domain = bytes[(i + 1)..<end]
            if start < i, domain.contains(UInt8(ascii: ".")), let last = domain.split(separator: UInt8(ascii: ".")).last, last.count >= 2,
               last.allSatisfy(isLetter) {
                out.append((String(decoding: bytes[start..<end], as: UTF8.self), start))
            }
            i = max(end, i + 1)
        }
        return out
    }

    static func isLocalByte(_ byte: UInt8) -> Bool {
        if isDigit(byte) || isLetter(byte) { return true }
        return "!#$%&'*+-/=?^_`{|}~.".utf8.contains(byte)
    }

    static func isDomainByte(_ byte: UInt8) -> Bool { isDigit(byte) || isLetter(byte) || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".") }

    /// `rfc822; a@b` → `a@b`; `<a@b>` → `a@b`.
    static func bareAddress(_ value: String) -> String {
        var text = Substring(value)
        if let semicolon = text.firstIndex(of: ";") { text = text[text.index(after: semicolon)...] }
        let found = addresses(in: String(text))
        if let first = found.first { return first.address }
        return text.trimmingCharacters(in: CharacterSet.whitespaces.union(CharacterSet(charactersIn: "<>\"")))
    }

    /// The address of a DSN recipient field (`rfc822; ann@example.com`, `<ann@example.com>`)
    /// when the whole value is one address that could have been mailed: nil for an internal
    /// name (`userx@sims-ms-daemon`, a host without a dot), a local-only form, a source route
    /// or anything else around the address.
    static func mailbox(inRecipientField value: String) -> String? {
        var text = Substring(value)
        if let semicolon = text.firstIndex(of: ";") { text = text[text.index(after: semicolon)...] }
        let trimmed = text.trimmingCharacters(in: CharacterSet.whitespaces.union(CharacterSet(charactersIn: "<>\"")))
        let found = addresses(in: trimmed)
        guard found.count == 1, trimmed.hasSuffix(found[0].address) else { return nil }
        let prefix = trimmed.dropLast(found[0].address.count).lowercased()
        return prefix.isEmpty || prefix == "smtp=" || prefix == "smtp:" ? found[0].address : nil
    }

    /// Local parts of role and list-machinery mailboxes a report's boilerplate names
    /// ("contact postmaster@…", a list's owner): never a failed recipient on their own words.
    static let roleLocalParts: Set<String> = [
        "postmaster", "post_master", "abuse", "hostmaster", "webmaster", "mailer-daemon", "mailer_daemon", "mail-daemon",
        "maildaemon", "listmaster", "noreply", "no-reply", "no_reply", "donotreply", "do-not-reply",
    ]

    /// Whether `address` is a role mailbox: one of `roleLocalParts`, or a list's owner or
    /// request address (`*-owner`, `*-request`, `*-admin`, `owner-*`).
    static func isRoleAddress(_ address: String) -> Bool {
        guard let at = address.lastIndex(of: "@") else { return false }
        let local = address[..<at].lowercased()
        return roleLocalParts.contains(local) || local.hasPrefix("owner-")
            || ["-owner", "-request", "-admin"].contains { local.hasSuffix($0) && local.count > $0.count }
    }

    /// Collapses runs of whitespace and line breaks into single spaces.
    static func oneLine(_ text: some StringProtocol) -> String {
        text.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" }).joined(separator: " ")
    }
}

import Foundation
