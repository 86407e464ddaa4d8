import KilnCore
import Testing

/// Excel saves "CSV UTF-8" with a byte order mark; the header must still read `email`.
@Suite struct CSVByteOrderMarkTests {
    func records(_ chunks: [[UInt8]]) -> [[String]] {
        var parser = CSVParser()
        var out: [[String]] = []
        let take: (CSVParser.Item) -> Void = { if case .record(let r) = $0 { out.append(r.fields) } }
        for chunk in chunks { parser.feed(chunk, take) }
        parser.finish(take)
        return out
    }

    static let bom: [UInt8] = [0xEF, 0xBB, 0xBF]
    static let body = Array("email,name\r\nada@gmail.com,Ada\r\n".utf8)

    @Test(arguments: [1, 2, 3, 4, 40])
    func aLeadingBOMIsSkippedHoweverTheInputIsSplit(chunkSize: Int) {
        let bytes = Self.bom + Self.body
        let chunks = stride(from: 0, to: bytes.count, by: chunkSize).map { Array(bytes[$0..<min(bytes.count, $0 + chunkSize)]) }
        #expect(records(chunks) == [["email", "name"], ["ada@gmail.com", "Ada"]])
    }

    @Test(arguments: [
        ([0xEF, 0xBB], [["\u{FFFD}"]]),
        (Array("email".utf8), [["email"]]),
        ([0xEF] + Array("x".utf8), [["\u{FFFD}x"]]),
        (Array("a,b\n".utf8) + [0xEF, 0xBB, 0xBF] + Array("c\n".utf8), [["a", "b"], ["\u{FEFF}c"]]),
    ] as [([UInt8], [[String]])])
    func onlyAWholeBOMAtTheVeryStartIsSkipped(bytes: [UInt8], expected: [[String]]) {
        #expect(records([bytes]) == expected)
    }
}

/// A quote left open at the end of its line rejects that row only, with its line number:
/// the valid rows after it are read (before, they were swallowed into the open field).
@Suite struct CSVUnterminatedQuoteTests {
    @Test(arguments: ["\r\n", "\n"])
    func anOpenQuoteRejectsItsRowAndTheNextRowsAreRead(_ end: String) {
        let text = ["email,name", "a@example.com,Ann", "b@example.com,\"Bob", "c@example.com,Cy", "d@example.com,\"Dee, Jr.\""].joined(separator: end) + end
        var parser = CSVParser()
        var items: [CSVParser.Item] = []
        parser.feed(Array(text.utf8)) { items.append($0) }
        parser.finish { items.append($0) }
        #expect(items.count == 5, "\(items)")
        #expect(items.contains(.malformed(line: 3, reason: "a quoted field is not closed on its line")))
        let records = items.compactMap { if case .record(let r) = $0 { (r.line, r.fields) } else { nil } }
        #expect(records.contains { $0.0 == 4 && $0.1 == ["c@example.com", "Cy"] })
        #expect(records.contains { $0.0 == 5 && $0.1 == ["d@example.com", "Dee, Jr."] })
    }
}
