import KilnCore
import KilnMessage
import Testing

@Suite struct TemplateTests {
    let template = MessageTemplate(from: "news@example.com", fromName: "{{brand}} News", subject: "Hi {{first_name}} & friends",
                                   text: "Hello {{first_name}},\n{{#vip}}You are VIP.\n{{/vip}}Bye", html: "<p>Hello {{first_name}}</p>{{{footer}}}")

    @Test func requiredVariablesAreTheTopLevelOnes() throws {
        let compiled = try template.compile()
        #expect(Set(compiled.required) == ["brand", "first_name", "footer"])
    }

    @Test func valuesAreEscapedInHTMLOnly() throws {
        let compiled = try template.compile()
        let draft = try compiled.render(to: try EmailAddress("ada@gmail.com"),
                                        variables: ["brand": "ACME", "first_name": "<Ada & Co>", "footer": "<hr>", "vip": "yes"])
        #expect(draft.subject == "Hi <Ada & Co> & friends")
        #expect(draft.fromName == "ACME News")
        #expect(draft.text == "Hello <Ada & Co>,\nYou are VIP.\nBye")
        #expect(draft.html == "<p>Hello &lt;Ada &amp; Co&gt;</p><hr>")
        #expect(draft.to.map(\.description) == ["ada@gmail.com"])
    }

    @Test func aMissingVariableIsARenderingFailureNamingIt() throws {
        let compiled = try template.compile()
        do {
            _ = try compiled.render(to: try EmailAddress("ada@gmail.com"), variables: ["brand": "ACME", "footer": ""])
            Issue.record("rendered without first_name")
        } catch {
            #expect(error.code == .renderingFailure)
            #expect(error.location == "variables.first_name")
        }
    }

    @Test func aLineBreakFromAVariableCannotReachAHeader() throws {
        let compiled = try template.compile()
        do {
            _ = try compiled.render(to: try EmailAddress("ada@gmail.com"), variables: ["brand": "ACME", "first_name": "Ada\r\nBcc: all@example.org", "footer": ""])
            Issue.record("a CRLF reached the Subject")
        } catch {
            #expect(error.code == .headerInjection)
            #expect(error.location == "Subject")
        }
    }

    @Test func aTemplateThatDoesNotParseNamesItsPart() {
        do {
            _ = try MessageTemplate(from: "news@example.com", subject: "ok", text: "{{#open}} never closed").compile()
            Issue.record("parsed")
        } catch {
            #expect(error.location == "template.text")
        }
    }

    /// A syntax error is said in plain words, with the part, line and column as the user
    /// wrote them, never Mustache's internals.
    @Test(arguments: [
        ("Hi {{first_name}", "text", 1, "not closed with }}"),
        ("Line one\nand {{#vip}} forever", "text", 2, "not closed with {{/name}}"),
        ("{{#a}}x{{/b}}", "text", 1, "another name"),
    ])
    func aSyntaxErrorNamesThePartLineAndColumnInPlainWords(_ source: String, _ part: String, _ line: Int, _ words: String) {
        do {
            _ = try MessageTemplate(from: "news@example.com", subject: "ok", text: source).compile()
            Issue.record("parsed")
        } catch {
            #expect(error.location == "template.\(part)")
            #expect(error.message.contains("line \(line), column"), "\(error.message)")
            #expect(error.message.contains(words), "\(error.message)")
            #expect(!error.message.contains("Mustache") && !error.message.contains("ParserError"), "\(error.message)")
        }
    }
}
