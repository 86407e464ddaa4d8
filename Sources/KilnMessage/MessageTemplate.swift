import Foundation
import KilnCore
import Mustache

/// A message with Mustache placeholders, rendered per recipient at send time: a
/// 10-million-recipient campaign stores one template and each recipient's variables,
/// not 10 million bodies. Values are HTML-escaped in the HTML part (`{{name}}`; the
/// triple form `{{{name}}}` is for trusted HTML), never in the subject or text.
public struct MessageTemplate: Sendable, Codable, Hashable {
    public var from: String
    public var fromName: String?
    public var replyTo: String?
    public var subject: String
    public var text: String?
    public var html: String?
    /// The first fields of Feedback-ID (campaign, category), when they are not the
    /// campaign id and the configuration set's category.
    public var tags: [String]?
    /// Extra header fields, the same for every recipient (not rendered).
    public var headers: [String: String]?

    /// Fields Kiln writes itself, which `headers` may not set.
    public static let reservedHeaders: Set<String> = [
        "from", "to", "cc", "bcc", "subject", "date", "message-id", "reply-to", "sender", "mime-version", "content-type",
        "content-transfer-encoding", "dkim-signature", "feedback-id", "list-unsubscribe", "list-unsubscribe-post", "return-path",
    ]

    public init(from: String, fromName: String? = nil, replyTo: String? = nil, subject: String, text: String? = nil, html: String? = nil, tags: [String]? = nil,
                headers: [String: String]? = nil) {
        self.headers = headers
        self.from = from
        self.fromName = fromName
        self.replyTo = replyTo
        self.tags = tags
        self.subject = subject
        self.text = text
        self.html = html
    }

    /// The parsed parts; parse once, render many times.
    public struct Compiled: @unchecked Sendable {
        public let template: MessageTemplate
        let from: EmailAddress
        let replyTo: EmailAddress?
        let subject: TemplatePart
        let fromName: TemplatePart?
        let text: TemplatePart?
        let html: TemplatePart?
        /// Variables every recipient must have (those outside sections).
        public let required: [String]
    }

    /// Parses every part; an error names the part. A part over `maxPartBytes` or
    /// nesting sections deeper than `maxSectionDepth` is refused before parsing.
    public func compile() throws(KilnError) -> Compiled {
        guard text != nil || html != nil else { throw KilnError(.invalidMessage, "a template needs a text or an HTML body", location: "template") }
        for (part, source) in [("subject", subject), ("fromName", fromName), ("text", text), ("html", html)] {
            if let source { try Self.checkShape(source, part: part) }
        }
        let sender: EmailAddress
        do { sender = try EmailAddress(from) } catch { throw KilnError(.invalidAddress, "'\(from.escapingControlCharacters)' is not an email address", location: "template.from") }
        var replyAddress: EmailAddress?
        if let replyTo {
            do { replyAddress = try EmailAddress(replyTo) } catch { throw KilnError(.invalidAddress, "'\(replyTo.escapingControlCharacters)' is not an email address", location: "template.replyTo") }
        }
        for (index, tag) in (tags ?? []).enumerated() {
            guard !tag.isEmpty, !tag.contains(":"), !tag.contains("{{"), tag.unicodeScalars.allSatisfy({ $0.value > 32 && $0.value < 127 }) else {
                throw KilnError(.invalidMessage, "'\(tag)' cannot be a Feedback-ID field (printable ASCII, no spaces, colons or variables)", location: "template.tags[\(index)]")
            }
        }
        func parse(_ source: String?, part: String, html: Bool) throws(KilnError) -> TemplatePart? {
            guard let source else { return nil }
            do {
                return try TemplatePart(source: source, html: html)
            } catch {
                throw KilnError(.invalidMessage, "the \(part) template does not parse: \(error)", location: "template.\(part)")
            }
        }
        for (name, value) in (headers ?? [:]).sorted(by: { $0.key < $1.key }) {
            guard !name.isEmpty, name.unicodeScalars.allSatisfy({ $0.value > 32 && $0.value < 127 && $0 != ":" }) else {
                throw KilnError(.invalidMessage, "'\(name.escapingControlCharacters)' is not a header field name", location: "template.headers")
            }
            guard !Self.reservedHeaders.contains(name.lowercased()) else {
                throw KilnError(.invalidMessage, "\(name) is written by Kiln and cannot be set in headers", location: "template.headers.\(name)")
            }
            _ = try HeaderField.checked(value, field: name)
        }
        var required: [String] = []
        for source in [subject, fromName, text, html].compactMap({ $0 }) {
            for name in Self.topLevelVariables(source) where !required.contains(name) { required.append(name) }
        }
        return Compiled(
            template: self, from: sender, replyTo: replyAddress, subject: try parse(subject, part: "subject", html: false)!,
            fromName: try parse(fromName, part: "fromName", html: false), text: try parse(text, part: "text", html: false),
            html: try parse(html, part: "html", html: true), required: required)
    }

    /// The names of the variable tags outside any section (the first component of a
    /// dotted name).
    static func topLevelVariables(_ source: String) -> [String] {
        var names: [String] = []
        var depth = 0
        var rest = Substring(source)
        while let open = rest.range(of: "{{") {
            let afterOpen = rest[open.upperBound...]
            let triple = afterOpen.hasPrefix("{")
            guard let close = afterOpen.range(of: triple ? "}}}" : "}}") else { break }
            var tag = afterOpen[afterOpen.startIndex..<close.lowerBound]
            if triple { tag = tag.dropFirst() }
            rest = afterOpen[close.upperBound...]
            let trimmed = tag.trimmingCharacters(in: .whitespaces)
            guard let first = trimmed.first else { continue }
            switch first {
            case "#", "^", "$", "<": depth += 1
            case "/": depth = max(0, depth - 1)
            case "!", ">", "%", "=": continue
            default:
                guard depth == 0 else { continue }
                let name = (first == "&" ? String(trimmed.dropFirst()) : trimmed).trimmingCharacters(in: .whitespaces)
                let head = String(name.split(separator: ".").first ?? "")
                if !head.isEmpty, head != ".", !names.contains(head) { names.append(head) }
            }
        }
        return names
    }
}

extension MessageTemplate.Compiled {
    /// The message for one recipient. A variable missing from `variables`, or a value
    /// that would put a line break into a header, is an error naming it.
    public func render(to recipient: EmailAddress, variables: [String: String]) throws(KilnError) -> MessageDraft {
        for name in required where variables[name] == nil {
            throw KilnError(.renderingFailure, "the variable '\(name)' is missing for \(recipient)", location: "variables.\(name)")
        }
        let subjectText = try HeaderField.checked(subject.render(variables), field: "Subject")
        let name = try fromName.map { t throws(KilnError) in try HeaderField.checked(t.render(variables), field: "From") }
        let extra = (template.headers ?? [:]).sorted { $0.key < $1.key }.map { MessageDraft.Header($0.key, $0.value) }
        return MessageDraft(from: from, fromName: name, to: [recipient], replyTo: replyTo, subject: subjectText,
                            text: text?.render(variables), html: html?.render(variables), extraHeaders: extra)
    }
}
