import Mustache

/// One part of a compiled template (subject, From name, text or HTML). A part whose
/// only tags are plain variables (`{{name}}`, `{{{name}}}`, `{{&name}}`), as most
/// newsletters are, is rendered by `PlainTemplate` without Mustache's context machinery;
/// any other part by Mustache itself. Both give the same text (`TemplatePartTests`
/// compares them).
struct TemplatePart: @unchecked Sendable {
    let mustache: MustacheTemplate
    let plain: PlainTemplate?
    let html: Bool

    /// A template that does not parse, in plain words: where (line and column of the
    /// part as written) and what.
    struct SyntaxError: Error, CustomStringConvertible {
        var line: Int
        var column: Int
        var problem: String
        var description: String { "line \(line), column \(column): \(problem)" }
    }

    init(source: String, html: Bool) throws(SyntaxError) {
        let prefix = html ? "{{% CONTENT_TYPE: HTML}}" : "{{% CONTENT_TYPE: TEXT}}"
        do {
            mustache = try MustacheTemplate(string: prefix + source)
        } catch {
            throw Self.describe(error, prefixLength: prefix.count, source: source)
        }
        plain = PlainTemplate(source)
        self.html = html
    }

    /// Mustache's error, without its internals, at the place in the part as written.
    static func describe(_ error: any Error, prefixLength: Int, source: String) -> SyntaxError {
        guard let parse = error as? MustacheTemplate.ParserError else {
            return SyntaxError(line: 1, column: 1, problem: "the template does not parse")
        }
        let line = max(1, parse.context.lineNumber)
        let column = max(1, line == 1 ? parse.context.columnNumber - prefixLength : parse.context.columnNumber)
        let problem: String
        switch parse.error {
        case MustacheTemplate.Error.sectionCloseNameIncorrect: problem = "a section is closed ({{/...}}) with another name than it was opened with"
        case MustacheTemplate.Error.unfinishedName: problem = "a tag's name is not finished (a tag is {{name}}, with no spaces or braces inside)"
        case MustacheTemplate.Error.expectedSectionEnd: problem = "a section ({{#name}} or {{^name}}) is not closed with {{/name}}"
        case MustacheTemplate.Error.invalidSetDelimiter: problem = "a delimiter change ({{=<% %>=}}) is badly written"
        case MustacheTemplate.Error.invalidConfigVariableSyntax, MustacheTemplate.Error.unrecognisedConfigVariable:
            problem = "a {{% ...}} configuration tag is not one Kiln knows"
        default:
            // Mustache reads past the end when a tag is opened and never closed.
            problem = String(describing: parse.error).contains("overflow")
                ? "a tag opened with {{ is not closed with }} before the end" : "the template does not parse"
        }
        return SyntaxError(line: line, column: column, problem: problem)
    }

    func render(_ variables: [String: String]) -> String {
        if let plain { return plain.render(variables, escapingHTML: html) }
        return mustache.render(variables as [String: Any])
    }
}

/// A template whose tags are all plain variables: literal text and variable names, in
/// order. `init` returns nil for anything else (sections, inverted sections, partials,
/// comments, delimiter changes, dotted or unusual names, a tag left open), which
/// Mustache renders instead.
struct PlainTemplate: Sendable, Equatable {
    enum Piece: Sendable, Equatable {
        case literal(String)
        /// A variable; `escaped` for `{{name}}` (HTML-escaped in an HTML part), not for
        /// `{{{name}}}` or `{{&name}}`.
        case variable(String, escaped: Bool)
    }

    let pieces: [Piece]

    init?(_ source: String) {
        let bytes = Array(source.utf8)
        // Mustache treats the content-type pragma put in front as a standalone tag when
        // the first line is blank (dropping that line), and drops a blank last line:
        // such sources go to Mustache.
        func blank(_ line: ArraySlice<UInt8>) -> Bool { line.allSatisfy { $0 == 32 || $0 == 9 || $0 == 13 } }
        if let firstBreak = bytes.firstIndex(of: 10), blank(bytes[..<firstBreak]) { return nil }
        let lastLine = bytes[((bytes.lastIndex(of: 10) ?? -1) + 1)...]
        if !lastLine.isEmpty, blank(lastLine) { return nil }
        let brace = UInt8(ascii: "{"), close = UInt8(ascii: "}")
        var pieces: [Piece] = []
        var literalStart = 0
        var i = 0
        while i + 1 < bytes.count {
            guard bytes[i] == brace, bytes[i + 1] == brace else { i += 1; continue }
            if i > literalStart { pieces.append(.literal(String(decoding: bytes[literalStart..<i], as: UTF8.self))) }
            var start = i + 2
            let triple = start < bytes.count && bytes[start] == brace
            if triple { start += 1 }
            let ampersand = !triple && start < bytes.count && bytes[start] == UInt8(ascii: "&")
            if ampersand { start += 1 }
            let closing = triple ? 3 : 2
            var end = start
            while end + closing <= bytes.count, !(bytes[end..<end + closing].allSatisfy { $0 == close }) { end += 1 }
            guard end + closing <= bytes.count else { return nil }
            var nameStart = start, nameEnd = end
            while nameStart < nameEnd, bytes[nameStart] == 32 { nameStart += 1 }
            while nameEnd > nameStart, bytes[nameEnd - 1] == 32 { nameEnd -= 1 }
            guard nameStart < nameEnd, bytes[nameStart..<nameEnd].allSatisfy(Self.isNameByte) else { return nil }
            pieces.append(.variable(String(decoding: bytes[nameStart..<nameEnd], as: UTF8.self), escaped: !triple && !ampersand))
            i = end + closing
            literalStart = i
        }
        if literalStart < bytes.count { pieces.append(.literal(String(decoding: bytes[literalStart...], as: UTF8.self))) }
        self.pieces = pieces
    }

    /// Letters, digits and `_`: names that mean the same to Mustache whatever the context.
    static func isNameByte(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || byte == UInt8(ascii: "_")
    }

    /// The text for `variables` (a missing one renders empty, as in Mustache).
    func render(_ variables: [String: String], escapingHTML: Bool) -> String {
        var out = ""
        var size = 0
        for piece in pieces {
            switch piece {
            case .literal(let text): size += text.utf8.count
            case .variable(let name, _): size += variables[name]?.utf8.count ?? 0
            }
        }
        out.reserveCapacity(size + 64)
        for piece in pieces {
            switch piece {
            case .literal(let text):
                out += text
            case .variable(let name, let escaped):
                guard let value = variables[name] else { continue }
                if escaped && escapingHTML { Self.appendEscapingHTML(value, to: &out) } else { out += value }
            }
        }
        return out
    }

    /// Mustache's HTML escaping (`<`, `>`, `&`, `"`, `'`), on bytes. Mustache goes by
    /// Characters, so it leaves a `<` that a combining mark follows as it is; this escapes
    /// every one.
    static func appendEscapingHTML(_ value: String, to out: inout String) {
        guard value.utf8.contains(where: needsEscape) else {
            out += value
            return
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(value.utf8.count + 16)
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "<"): bytes += "&lt;".utf8
            case UInt8(ascii: ">"): bytes += "&gt;".utf8
            case UInt8(ascii: "&"): bytes += "&amp;".utf8
            case UInt8(ascii: "\""): bytes += "&quot;".utf8
            case UInt8(ascii: "'"): bytes += "&#39;".utf8
            default: bytes.append(byte)
            }
        }
        out += String(decoding: bytes, as: UTF8.self)
    }

    static func needsEscape(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: "<") || byte == UInt8(ascii: ">") || byte == UInt8(ascii: "&") || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "'")
    }
}
