import KilnSubmission

/// Reads the body of `POST /v1/messages` into an `APIMessage`, strictly, naming the JSON
/// path of the first problem (`recipients[3].email`). `docs/openapi.json` states the same
/// rules as a schema; the two must agree (schemathesis checks it).
///
/// | field | rule |
/// |---|---|
/// | the body | one JSON object (RFC 8259, UTF-8); no member twice; no other member than those below |
/// | `recipients` | required; 1 to `maxRecipients` objects (over it: `tooManyRecipients`, 413) with `email` (required), `name`, `substitutions`, `metadata` and no other member |
/// | `from`, `recipients[i].email` | an address: 1–254 characters, one `@` with text on both sides, no space, control character, `<` or `>` |
/// | `from` | required unless `raw` is given |
/// | `raw` | base64 (RFC 4648 §4, padded, no line breaks) of an RFC 5322 message; with it, `subject`, `text` and `html` must be absent |
/// | `subject` | required without `raw`, with `text` or `html` (or both) |
/// | `fromName`, `subject`, `configurationSet`, `tags[i]`, header values, `name` | one line: no control character but tab; `configurationSet` and tags not empty |
/// | `headers` | names of printable ASCII without `:` (RFC 5322 field names), values strings |
/// | `substitutions`, `metadata` | values are strings, numbers or booleans; numbers and booleans become their JSON text (`1.50` → `"1.50"`, `true` → `"true"`) |
/// | `transactional` | a boolean |
///
/// `null` is never accepted in place of a value: leave the member out.
enum InjectionRequest {
    static let topLevelFields: Set<String> = [
        "from", "fromName", "configurationSet", "transactional", "subject", "text", "html", "raw", "headers", "tags", "recipients",
    ]
    static let recipientFields: Set<String> = ["email", "name", "substitutions", "metadata"]
    /// RFC 5321 §4.5.3.1.3: a path is at most 256 octets with its angle brackets.
    static let maxAddressLength = 254

    /// The message of a request body.
    static func message(from body: [UInt8], maxRecipients: Int) throws(SubmissionRefusal) -> APIMessage {
        let document: JSONValue
        do {
            document = try JSONParser.parse(body)
        } catch {
            throw SubmissionRefusal(.invalid(path: nil), "The body is not valid JSON: \(error.message) at byte \(error.offset).")
        }
        guard case .object(let members) = document else {
            throw SubmissionRefusal(.invalid(path: nil), "The body must be a JSON object, not \(document.kindDescription).")
        }
        if let unknown = members.first(where: { !topLevelFields.contains($0.key) }) {
            throw invalid(unknown.key, "is not a field of a message")
        }
        let fields = Dictionary(members, uniquingKeysWith: { first, _ in first })

        guard let recipientsValue = fields["recipients"] else { throw invalid("recipients", "is required") }
        guard case .array(let recipientValues) = recipientsValue else {
            throw invalid("recipients", "must be an array, not \(recipientsValue.kindDescription)")
        }
        guard recipientValues.count <= maxRecipients else {
            throw SubmissionRefusal(.tooManyRecipients, "A message takes at most \(maxRecipients) recipients; this one has \(recipientValues.count).")
        }
        guard !recipientValues.isEmpty else { throw invalid("recipients", "must name at least one recipient") }

        let from = try fields["from"].map { value throws(SubmissionRefusal) in try address(value, "from") }
        let fromName = try fields["fromName"].map { value throws(SubmissionRefusal) in try line(value, "fromName") }
        let configurationSet = try fields["configurationSet"].map { value throws(SubmissionRefusal) in
            try line(value, "configurationSet", allowEmpty: false)
        }
        var transactional = false
        if let value = fields["transactional"] {
            guard case .bool(let flag) = value else { throw invalid("transactional", "must be a boolean, not \(value.kindDescription)") }
            transactional = flag
        }
        let content = try content(fields, from: from)
        let headers = try headers(fields["headers"])
        var tags: [String] = []
        if let value = fields["tags"] {
            guard case .array(let items) = value else { throw invalid("tags", "must be an array, not \(value.kindDescription)") }
            for (index, item) in items.enumerated() {
                tags.append(try line(item, "tags[\(index)]", allowEmpty: false))
            }
        }
        var recipients: [APIMessage.Recipient] = []
        recipients.reserveCapacity(recipientValues.count)
        for (index, value) in recipientValues.enumerated() {
            recipients.append(try recipient(value, "recipients[\(index)]"))
        }
        return APIMessage(from: from, fromName: fromName, configurationSet: configurationSet, transactional: transactional,
                          content: content, headers: headers, tags: tags, recipients: recipients)
    }

    static func content(_ fields: [String: JSONValue], from: String?) throws(SubmissionRefusal) -> APIMessage.Content {
        if let raw = fields["raw"] {
            for name in ["subject", "text", "html"] where fields[name] != nil {
                throw invalid(name, "must be absent when raw is given (the raw message carries its own)")
            }
            guard case .string(let text) = raw else { throw invalid("raw", "must be a string, not \(raw.kindDescription)") }
            guard let bytes = Base64.decode(text), !bytes.isEmpty else {
                throw invalid("raw", "must be padded base64 (RFC 4648 §4) of an RFC 5322 message, without line breaks")
            }
            return .raw(bytes)
        }
        guard from != nil else { throw invalid("from", "is required unless raw is given") }
        guard let subjectValue = fields["subject"] else { throw invalid("subject", "is required unless raw is given") }
        let subject = try line(subjectValue, "subject")
        let text = try fields["text"].map { value throws(SubmissionRefusal) in try string(value, "text") }
        let html = try fields["html"].map { value throws(SubmissionRefusal) in try string(value, "html") }
        guard text != nil || html != nil else { throw invalid("text", "text or html (or both) is required unless raw is given") }
        return .template(subject: subject, text: text, html: html)
    }

    static func headers(_ value: JSONValue?) throws(SubmissionRefusal) -> [String: String] {
        guard let value else { return [:] }
        guard case .object(let members) = value else { throw invalid("headers", "must be an object, not \(value.kindDescription)") }
        var headers: [String: String] = [:]
        for (name, headerValue) in members {
            let path = member("headers", name)
            guard !name.isEmpty, name.unicodeScalars.allSatisfy({ (0x21...0x7E).contains($0.value) && $0 != ":" }) else {
                throw invalid(path, "is not a header field name (printable ASCII without ':', RFC 5322)")
            }
            headers[name] = try line(headerValue, path)
        }
        return headers
    }

    static func recipient(_ value: JSONValue, _ path: String) throws(SubmissionRefusal) -> APIMessage.Recipient {
        guard case .object(let members) = value else { throw invalid(path, "must be an object, not \(value.kindDescription)") }
        if let unknown = members.first(where: { !recipientFields.contains($0.key) }) {
            throw invalid(member(path, unknown.key), "is not a field of a recipient")
        }
        let fields = Dictionary(members, uniquingKeysWith: { first, _ in first })
        guard let emailValue = fields["email"] else { throw invalid(member(path, "email"), "is required") }
        return APIMessage.Recipient(
            email: try address(emailValue, member(path, "email")),
            name: try fields["name"].map { value throws(SubmissionRefusal) in try line(value, member(path, "name")) },
            substitutions: try scalarMap(fields["substitutions"], member(path, "substitutions")),
            metadata: try scalarMap(fields["metadata"], member(path, "metadata")))
    }

    /// An object whose values are strings, numbers or booleans, all as strings.
    static func scalarMap(_ value: JSONValue?, _ path: String) throws(SubmissionRefusal) -> [String: String] {
        guard let value else { return [:] }
        guard case .object(let members) = value else { throw invalid(path, "must be an object, not \(value.kindDescription)") }
        var map: [String: String] = [:]
        for (key, item) in members {
            switch item {
            case .string(let text): map[key] = text
            case .number(let text): map[key] = text
            case .bool(let flag): map[key] = flag ? "true" : "false"
            default: throw invalid(member(path, key), "must be a string, a number or a boolean, not \(item.kindDescription)")
            }
        }
        return map
    }

    static func string(_ value: JSONValue, _ path: String) throws(SubmissionRefusal) -> String {
        guard case .string(let text) = value else { throw invalid(path, "must be a string, not \(value.kindDescription)") }
        return text
    }

    /// A string on one line: no control character (C0 or DEL) but tab.
    static func line(_ value: JSONValue, _ path: String, allowEmpty: Bool = true) throws(SubmissionRefusal) -> String {
        let text = try string(value, path)
        guard allowEmpty || !text.isEmpty else { throw invalid(path, "must not be empty") }
        guard !text.unicodeScalars.contains(where: { ($0.value < 0x20 && $0 != "\t") || $0.value == 0x7F }) else {
            throw invalid(path, "must be one line, without control characters")
        }
        return text
    }

    /// An address as the schema's pattern states it; whether it can receive mail is the backend's to say.
    static func address(_ value: JSONValue, _ path: String) throws(SubmissionRefusal) -> String {
        let text = try string(value, path)
        let scalars = text.unicodeScalars
        let at = scalars.firstIndex(of: "@")
        guard scalars.count <= maxAddressLength, let at, at != scalars.startIndex, scalars.index(after: at) != scalars.endIndex,
              !scalars[scalars.index(after: at)...].contains("@"),
              !scalars.contains(where: { $0.value <= 0x20 || $0.value == 0x7F || $0 == "<" || $0 == ">" })
        else {
            throw invalid(path, "must be an email address (local@domain, at most \(maxAddressLength) characters, no spaces or angle brackets)")
        }
        return text
    }

    static func invalid(_ path: String, _ problem: String) -> SubmissionRefusal {
        SubmissionRefusal(.invalid(path: path), "\(path) \(problem).")
    }

    /// `path.key`, or `path["key"]` when the key is not made of letters, digits, `_` and `-` only.
    static func member(_ path: String, _ key: String) -> String {
        let plain = !key.isEmpty && key.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_" || $0 == "-") }
        if plain { return path.isEmpty ? key : "\(path).\(key)" }
        var quoted = "\""
        for scalar in key.unicodeScalars {
            switch scalar {
            case "\"": quoted += "\\\""
            case "\\": quoted += "\\\\"
            case _ where scalar.value < 0x20: quoted += "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count) + String(scalar.value, radix: 16)
            default: quoted.unicodeScalars.append(scalar)
            }
        }
        return "\(path)[\(quoted)\"]"
    }
}

/// Base64 of RFC 4648 §4 (`+`, `/`, padded to a multiple of 4, no whitespace), decoded.
enum Base64 {
    private static let values: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (index, byte) in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8.enumerated() {
            table[Int(byte)] = UInt8(index)
        }
        return table
    }()

    /// The bytes, or nil when `text` is not padded base64 (the pattern of `raw` in the schema).
    static func decode(_ text: String) -> [UInt8]? {
        let input = Array(text.utf8)
        guard input.count % 4 == 0 else { return nil }
        var padding = 0
        if input.last == UInt8(ascii: "=") { padding += 1 }
        if input.count >= 2, input[input.count - 2] == UInt8(ascii: "=") { padding += 1 }
        var output: [UInt8] = []
        output.reserveCapacity(input.count / 4 * 3)
        var index = 0
        while index < input.count {
            let isLast = index + 4 == input.count
            let pads = isLast ? padding : 0
            var quantum: UInt32 = 0
            for offset in 0..<(4 - pads) {
                let value = values[Int(input[index + offset])]
                guard value != 0xFF else { return nil }
                quantum = quantum << 6 | UInt32(value)
            }
            quantum <<= UInt32(6 * pads)
            output.append(UInt8(truncatingIfNeeded: quantum >> 16))
            if pads < 2 { output.append(UInt8(truncatingIfNeeded: quantum >> 8)) }
            if pads < 1 { output.append(UInt8(truncatingIfNeeded: quantum)) }
            index += 4
        }
        return output
    }
}
