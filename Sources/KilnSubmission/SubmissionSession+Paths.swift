import KilnCore

/// The arguments of MAIL and RCPT (RFC 5321 §4.1.2): `FROM:<path> [parameters]`.
extension SubmissionSession {
    /// The path between the angle brackets (a source route `@a,@b:` dropped, §4.1.2) and
    /// the parameters after it; nil when the argument does not have that shape. A space
    /// after the colon is allowed, as most servers do.
    static func reversePath(_ argument: Substring, keyword: String) -> (path: String, parameters: [Substring])? {
        guard argument.count > keyword.count, argument.prefix(keyword.count).uppercased() == keyword else { return nil }
        let rest = argument.dropFirst(keyword.count).drop(while: { $0 == " " })
        guard rest.first == "<" else { return nil }
        var quoted = false, escaped = false
        var close: Substring.Index?
        for index in rest.indices.dropFirst() {
            let character = rest[index]
            if escaped {
                escaped = false
            } else if character == "\\" {
                escaped = quoted
            } else if character == "\"" {
                quoted.toggle()
            } else if character == ">", !quoted {
                close = index
                break
            }
        }
        guard let close else { return nil }
        var path = rest[rest.index(after: rest.startIndex)..<close]
        if path.first == "@", let colon = path.firstIndex(of: ":") { path = path[path.index(after: colon)...] }
        let after = rest[rest.index(after: close)...]
        guard after.isEmpty || after.first == " " else { return nil }
        return (String(path), after.split(separator: " "))
    }

    /// A mailbox checked by the RFC 5321 grammar (with RFC 6531 UTF-8), its domain
    /// lower-cased; nil when it is not one.
    static func mailbox(_ path: String) -> String? {
        guard let first = path.first, let last = path.last, !first.isWhitespace, !last.isWhitespace,
              let address = try? EmailAddress(path) else { return nil }
        return address.description
    }

    /// `KEY=VALUE` or `KEY`; the key upper-cased.
    static func split(_ parameter: Substring) -> (key: String, value: String?) {
        guard let equals = parameter.firstIndex(of: "=") else { return (parameter.uppercased(), nil) }
        return (parameter[..<equals].uppercased(), String(parameter[parameter.index(after: equals)...]))
    }
}
