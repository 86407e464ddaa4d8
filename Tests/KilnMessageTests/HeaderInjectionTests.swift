import KilnCore
import KilnMessage
import Testing

/// Defence in depth against injection: a header is checked where it is written, whatever its
/// value went through before.
@Suite struct HeaderInjectionTests {
    static let refused = [
        "a\r\nBcc: victim@example.com", "a\nBcc: victim@example.com", "a\rb", "a\u{0}b", "a\r\n", "a\r\n \r\n b", "a\r\n\r\nbody",
        "a\r\n\tb\r\nX: y", "\r\nX: y",
    ]

    @Test(arguments: refused)
    func aValueWithALineBreakThatIsNotFoldingIsNeverWritten(value: String) {
        #expect(throws: KilnError.self) { try HeaderField.checkFolding(value, field: "X-Test") }
        let error = #expect(throws: KilnError.self) { try HeaderField.line("X-Test", value) }
        #expect(error?.code == .headerInjection)
        #expect(error?.location == "X-Test")
    }

    @Test(arguments: ["plain", "=?UTF-8?B?w7w=?=\r\n =?UTF-8?B?w7w=?=", "a\r\n\tb", "tab\tinside", ""])
    func foldingAndPlainValuesAreWritten(value: String) throws {
        let line = try HeaderField.line("X-Test", value)
        #expect(line == "X-Test: \(value)\r\n")
    }

    @Test(arguments: ["Bcc:\r\nX", "X Test", "", "Ünicode", "X:Y"])
    func aBadHeaderNameIsRefused(name: String) {
        #expect(throws: KilnError.self) { try HeaderField.line(name, "value") }
    }

    @Test func theBuilderRefusesAnExtraHeaderWithCRLF() throws {
        let draft = MessageDraft(from: try EmailAddress("news@example.com"), to: [try EmailAddress("a@example.com")], subject: "Hi", text: "Hello",
                                 extraHeaders: [.init("X-Campaign", "spring\r\nBcc: victim@example.com")])
        let error = #expect(throws: KilnError.self) { try MessageBuilder.compose(draft, date: Timestamp(nanoseconds: 0), messageID: "1@example.com", boundarySeed: "b") }
        #expect(error?.code == .headerInjection)
    }

    @Test func theBuilderRefusesASubjectOrDisplayNameWithCRLF() throws {
        let from = try EmailAddress("news@example.com"), to = try EmailAddress("a@example.com")
        for draft in [MessageDraft(from: from, to: [to], subject: "Hi\r\nBcc: victim@example.com", text: "Hello"),
                      MessageDraft(from: from, fromName: "News\nBcc: victim@example.com", to: [to], subject: "Hi", text: "Hello")] {
            #expect(throws: KilnError.self) { try MessageBuilder.compose(draft, date: Timestamp(nanoseconds: 0), messageID: "1@example.com", boundarySeed: "b") }
        }
    }

    @Test func aLongUnicodeSubjectIsStillFoldedAndWritten() throws {
        let draft = MessageDraft(from: try EmailAddress("news@example.com"), to: [try EmailAddress("用户@例子.广告")],
                                 subject: String(repeating: "Grüße ", count: 30), text: "Hello")
        let text = String(decoding: try MessageBuilder.compose(draft, date: Timestamp(nanoseconds: 0), messageID: "1@example.com", boundarySeed: "b"), as: UTF8.self)
        // The domain in A-label form (RFC 5890): only the local part needs UTF-8 (SMTPUTF8).
        #expect(text.contains("\r\nTo: 用户@xn--fsqu00a.xn--4rr70v\r\n"))
        #expect(text.contains("?=\r\n =?UTF-8?B?"))
    }

    @Test func bulkHeadersRefuseAnUnsubscribeTargetWithCRLF() {
        let headers = BulkHeaders(feedbackID: nil, unsubscribeURL: "https://example.com/u\r\nBcc: victim@example.com", unsubscribeMailto: nil, secret: [1])
        let error = #expect(throws: KilnError.self) { try headers.lines(for: UnsubscribeToken(recipient: "a@example.com", list: "l", campaign: "c")) }
        #expect(error?.code == .headerInjection)
    }
}
