import KilnCore
@testable import KilnMessage
import Testing

/// The relaxed body canonicalization and the 7bit check pass over 8 bytes at a time
/// where nothing needs changing. These compare them, byte for byte, with plain
/// one-byte-at-a-time versions written from the rules, on bodies built to put spaces,
/// tabs and line breaks on every side of an 8-byte boundary.
@Suite struct FastPathEquivalenceTests {
    /// `count` bytes drawn from `alphabet`, runs of the plain letter being likely so that
    /// whole 8-byte words take the fast path.
    static func body(_ count: Int, alphabet: [UInt8], random: inout SeededRandom) -> [UInt8] {
        (0..<count).map { _ in random.next() % 3 == 0 ? alphabet[Int(random.next() % UInt64(alphabet.count))] : UInt8(ascii: "a") }
    }

    /// RFC 6376 §3.4.4, one byte at a time.
    static func referenceRelaxedBody(_ body: [UInt8]) -> [UInt8] {
        var lines: [[UInt8]] = []
        var current: [UInt8] = []
        var i = 0
        while i < body.count {
            if body[i] == 13, i + 1 < body.count, body[i + 1] == 10 {
                lines.append(current); current = []; i += 2
            } else {
                current.append(body[i]); i += 1
            }
        }
        if !current.isEmpty { lines.append(current) }
        var canonical = lines.map { line -> [UInt8] in
            var out: [UInt8] = []
            var space = false
            for byte in line {
                if byte == 32 || byte == 9 { space = true; continue }
                if space { out.append(32) }
                space = false
                out.append(byte)
            }
            return out
        }
        while let last = canonical.last, last.isEmpty { canonical.removeLast() }
        return canonical.flatMap { $0 + [13, 10] }
    }

    /// RFC 5322 7bit: printable ASCII or tab, lines of at most 998 octets, none starting
    /// with a dot or ending in white space; LF, CR and CRLF all end a line.
    static func referenceSevenBit(_ body: [UInt8]) -> [UInt8]? {
        var out: [UInt8] = []
        var line: [UInt8] = []
        func close() -> Bool {
            if let first = line.first, first == 46 { return false }
            if let last = line.last, last == 32 || last == 9 { return false }
            if line.count > 998 { return false }
            out += line
            line = []
            return true
        }
        var i = 0
        while i < body.count {
            let byte = body[i]
            if byte == 13 || byte == 10 {
                guard close() else { return nil }
                out += [13, 10]
                i += byte == 13 && i + 1 < body.count && body[i + 1] == 10 ? 2 : 1
                continue
            }
            guard (32...126).contains(byte) || byte == 9 else { return nil }
            line.append(byte)
            i += 1
        }
        guard close() else { return nil }
        return out
    }

    @Test func relaxedBodyMatchesTheRuleByteForByte() {
        var random = SeededRandom(seed: 6376)
        let alphabet: [UInt8] = [32, 32, 32, 9, 13, 10, 13, 10, UInt8(ascii: "."), 0xC3]
        for round in 0..<3000 {
            let body = Self.body(Int(random.next() % 90), alphabet: alphabet, random: &random)
            let fast = DKIMCanonical.relaxedBody(body[...])
            #expect(fast == Self.referenceRelaxedBody(body), "round \(round): \(body)")
        }
        // A slice that does not start at index 0.
        let message = Array("X: y\r\n\r\n".utf8) + Array("hello   world, this line is longer than sixteen \r\n\r\n".utf8)
        #expect(DKIMCanonical.relaxedBody(message[8...]) == Array("hello world, this line is longer than sixteen\r\n".utf8))
        #expect(DKIMCanonical.relaxedBody([][...]) == [])
    }

    @Test func sevenBitMatchesTheRuleByteForByte() {
        var random = SeededRandom(seed: 5322)
        let alphabet: [UInt8] = [32, 9, 13, 10, 46, 126, 127, 0, 31, 0x80]
        var accepted = 0
        for round in 0..<3000 {
            var body = Self.body(Int(random.next() % 90), alphabet: alphabet, random: &random)
            // Most bodies clean, so that acceptance is tested as well as refusal.
            if round % 2 == 0 { body = body.map { [127, 0, 31, 0x80].contains($0) ? UInt8(ascii: "b") : $0 } }
            let fast = MessageBuilder.sevenBit(String(decoding: body, as: UTF8.self))
            let reference = String(decoding: body, as: UTF8.self).utf8.elementsEqual(body) ? Self.referenceSevenBit(body) : nil
            #expect(fast == reference, "round \(round): \(body)")
            if fast != nil { accepted += 1 }
        }
        #expect(accepted > 300)
        let long = [UInt8](repeating: UInt8(ascii: "x"), count: 998)
        #expect(MessageBuilder.sevenBit(String(decoding: long, as: UTF8.self)) == long)
        #expect(MessageBuilder.sevenBit(String(decoding: long + [UInt8(ascii: "x")], as: UTF8.self)) == nil)
        #expect(MessageBuilder.sevenBit(String(decoding: long + [13, 10] + long, as: UTF8.self)) == long + [13, 10] + long)
    }
}
