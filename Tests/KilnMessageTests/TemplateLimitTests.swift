import KilnCore
import KilnMessage
import Testing

/// Templates that would overflow the Mustache parser's stack (deep sections) or are too
/// large are refused before parsing, naming the part.
@Suite struct TemplateLimitTests {
    static func nested(_ depth: Int, open: String = "{{#", close: String = "}}", end: String = "{{/") -> String {
        (0..<depth).map { "\(open)s\($0)\(close)" }.joined() + "x" + (0..<depth).reversed().map { "\(end)s\($0)\(close)" }.joined()
    }

    /// `depth` inverted sections, each inside the one before (typed apart: inline, the
    /// expression took the type checker past its time limit on a loaded machine).
    static func invertedSections(_ depth: Int) -> String {
        let opens: [String] = (0..<depth).map { "{{^i\($0)}}" }
        let closes: [String] = (0..<depth).reversed().map { "{{/i\($0)}}" }
        return opens.joined() + closes.joined()
    }

    @Test(arguments: [
        ("text", nested(3_000)),
        ("text", nested(101)),
        ("html", invertedSections(500)),
        ("text", "{{=<% %>=}}" + nested(200, open: "<%#", close: "%>", end: "<%/")),
        ("subject", nested(150, open: "{{# ")),
        ("text", String(repeating: "a", count: MessageTemplate.maxPartBytes + 1)),
    ])
    func aTooDeepOrTooLargePartIsRefusedNamingIt(part: String, source: String) {
        let template = MessageTemplate(from: "news@example.com", subject: part == "subject" ? source : "Hi",
                                       text: part == "text" ? source : "t", html: part == "html" ? source : nil)
        do {
            _ = try template.compile()
            Issue.record("a \(part) of \(source.utf8.count) bytes compiled")
        } catch {
            #expect(error.code == .invalidMessage)
            #expect(error.location == "template.\(part)", "\(error)")
        }
    }

    @Test(arguments: [1, 50, 100])
    func nestingUpToTheLimitCompilesAndRenders(depth: Int) throws {
        let template = MessageTemplate(from: "news@example.com", subject: "Hi", text: Self.nested(depth))
        let variables = Dictionary(uniqueKeysWithValues: (0..<depth).map { ("s\($0)", "yes") })
        let draft = try template.compile().render(to: try EmailAddress("ada@gmail.com"), variables: variables)
        #expect(draft.text == "x")
    }
}
