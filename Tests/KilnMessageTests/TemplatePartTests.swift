import KilnCore
@testable import KilnMessage
import Mustache
import Testing

/// `PlainTemplate` renders parts whose tags are plain variables without Mustache. These
/// compare it with Mustache itself, on random templates and values: tags in all three
/// forms and with spaces, literals with braces, line breaks and markup, values with
/// every character HTML escapes and non-ASCII text, in HTML and in text parts.
@Suite struct TemplatePartTests {
    static let literals = ["Hello ", "<p>", "</p>\n", "\n", "\r\n", " \n", "a & b", "{", "}", "}}", "{ {", "é", "日本語", "👍", "\"q\"", "'", "x", "  "]
    static let tags = ["{{first_name}}", "{{{first_name}}}", "{{&first_name}}", "{{ first_name }}", "{{city}}", "{{{ city }}}", "{{ & city}}",
                       "{{missing}}", "{{n2}}"]
    static let values = ["Ann", "<b>Bo</b>", "a&b", "\"quoted\"", "it's", "Zoë", "東京", "🙂 <x>", "", "{{first_name}}", ">>"]

    static func mustache(_ source: String, html: Bool, _ variables: [String: String]) throws -> String {
        try MustacheTemplate(string: (html ? "{{% CONTENT_TYPE: HTML}}" : "{{% CONTENT_TYPE: TEXT}}") + source).render(variables as [String: Any])
    }

    @Test func plainVariablesRenderAsMustacheDoes() throws {
        var random = SeededRandom(seed: 1998)
        func pick(_ list: [String]) -> String { list[Int(random.next() % UInt64(list.count))] }
        var compared = 0
        for round in 0..<3_000 {
            var source = ""
            for _ in 0..<(1 + random.next() % 10) { source += random.next() % 2 == 0 ? pick(Self.literals) : pick(Self.tags) }
            let variables = ["first_name": pick(Self.values), "city": pick(Self.values), "n2": pick(Self.values)]
            // A source Mustache refuses never compiles, so never reaches either path.
            guard let plain = PlainTemplate(source), let expected = try? Self.mustache(source, html: round % 2 == 0, variables) else { continue }
            #expect(plain.render(variables, escapingHTML: round % 2 == 0) == expected, "\(source.debugDescription) \(variables)")
            compared += 1
        }
        #expect(compared > 1_000)
    }

    @Test func anythingButPlainVariablesGoesToMustache() {
        for source in ["{{#list}}x{{/list}}", "{{^a}}b{{/a}}", "{{> partial}}", "{{! note}}", "{{=<% %>=}}", "{{a.b}}", "{{.}}", "{{}}", "{{a",
                       "{{{a}}", "{{a b}}", "{{uppercased(a)}}", "x {{$block}}y{{/block}}", "  \n{{a}}", "\r\nx", "{{a}}\n  "] {
            #expect(PlainTemplate(source) == nil, "\(source)")
        }
        #expect(PlainTemplate("no tags at all")?.pieces == [.literal("no tags at all")])
    }

    /// Through the compiled template: a newsletter's parts take the plain path and render
    /// what Mustache renders; a part with a section still renders through Mustache.
    @Test func compiledTemplatesUseEitherPath() throws {
        let template = MessageTemplate(from: "news@example.com", subject: "Hi {{first_name}}", text: "{{#vip}}VIP {{/vip}}Dear {{first_name}}",
                                       html: "<p>Dear {{first_name}} & {{{city}}}</p>")
        let compiled = try template.compile()
        #expect(compiled.subject.plain != nil && compiled.html?.plain != nil && compiled.text?.plain == nil)
        let draft = try compiled.render(to: try EmailAddress("ann@example.org"), variables: ["first_name": "<Ann>", "city": "<i>Oslo</i>", "vip": "yes"])
        #expect(draft.subject == "Hi <Ann>")
        #expect(draft.html == "<p>Dear &lt;Ann&gt; & <i>Oslo</i></p>")
        #expect(draft.text == "VIP Dear <Ann>")
    }

    /// Where the two differ on purpose: Mustache goes by Characters and leaves a `<` that
    /// a combining mark follows unescaped; the plain path escapes every `<`.
    @Test func aBracketBeforeACombiningMarkIsStillEscaped() {
        let plain = PlainTemplate("{{v}}")!
        #expect(plain.render(["v": "<\u{301}script>"], escapingHTML: true) == "&lt;\u{301}script&gt;")
    }
}
