import Foundation
import KilnConfiguration
import KilnCore
import Testing

/// What `JSONDecoder` accepts silently or reports without a place, each reported with
/// its JSON path or its line and column.
@Suite struct JSONScannerTests {
    func problems(_ bytes: [UInt8]) -> String {
        do {
            _ = try Configuration.load(json: Data(bytes))
            return ""
        } catch {
            return error.description
        }
    }

    static let minimal = Array(ConfigurationTests.minimal.utf8)

    static func with(_ anchor: String, _ replacement: String) -> [UInt8] {
        Array(ConfigurationTests.minimal.replacingOccurrences(of: anchor, with: replacement).utf8)
    }

    @Test(arguments: [
        (with("\"senderId\": \"S\"", "\"senderId\": \"S\", \"senderId\": \"T\""), "senderId: line 1, column 50: duplicate key 'senderId'"),
        (with("\"path\": \"k.sqlite\"", "\"path\": \"k.sqlite\", \"p\\u0061th\": \"x\""), "store.path: line 1, column 32: duplicate key 'path'"),
        (with("{\"name\": \"p\",", "{\"name\": \"p\", \"name\": \"q\","), "pools[0].name: line 3, column 26: duplicate key 'name'"),
        (Array(minimal.prefix(12)) + [0xC0, 0x80] + Array(minimal.dropFirst(12)), "line 1, column 13: invalid UTF-8 (byte 0xC0)"),
        (Array(minimal.prefix(12)) + [0xED, 0xA0, 0x80] + Array(minimal.dropFirst(12)), "line 1, column 13: invalid UTF-8 (byte 0xED)"),
        (with("\"S\"", "\"S\" " + String(repeating: "[", count: 100_000)), "line 1, column "),
        (with("\"S\"", String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)), "senderId[0][0]"),
        (with("\"S\"", String(repeating: "{\"a\":", count: 65) + "1" + String(repeating: "}", count: 65)), "nested more than 64 deep"),
        (with("\"S\",", "\"S\",,"), "(top level): line 1, column 49: expected a key in quotes"),
        (with("\"S\"", "\"S\u{1}\""), "senderId: line 1, column 47: a control character in a string"),
        (with("\"S\"", "01"), "senderId: line 1, column 45: a number must not start with 0"),
        (with("\"S\"", "1e400"), "senderId: line 1, column 45: 1e400 is too large for a number"),
        (with("\"S\"", "-1e-400"), "senderId: line 1, column 45: -1e-400 is too small for a number"),
        (with("\"S\"", "'S'"), "senderId: line 1, column 45: unexpected character"),
    ] as [([UInt8], String)])
    func isReportedWithItsPlace(bytes: [UInt8], expected: String) {
        #expect(problems(bytes).contains(expected), "\(problems(bytes).prefix(300))")
    }

    @Test(arguments: [
        ("\"maxInFlight\": 1.5", "delivery.maxInFlight: expected an integer, found 1.5"),
        ("\"maxInFlight\": 1e20", "delivery.maxInFlight: expected an integer, found 1e20"),
        ("\"maxInFlight\": 9223372036854775808", "delivery.maxInFlight: expected an integer, found 9223372036854775808"),
        ("\"maxConnectionsPerDestination\": -0.5, \"connectTimeoutSeconds\": 0.5", "delivery.maxConnectionsPerDestination: expected an integer, found -0.5"),
        ("\"connectTimeoutSeconds\": 2.5, \"maxInFlight\": 7.5", "delivery.maxInFlight: expected an integer, found 7.5"),
    ])
    func aNumberTheDecoderRefusesIsTracedToItsKey(insertion: String, expected: String) {
        let json = Self.with("\"heloName\"", insertion + ", \"heloName\"")
        #expect(problems(json).contains(expected), "\(problems(json))")
    }

    @Test func aByteOrderMarkIsAccepted() {
        #expect(problems([0xEF, 0xBB, 0xBF] + Self.minimal) == "")
    }

    @Test(arguments: [
        (0.0, Int64(0)), (1.9, 1), (-1.9, -1), (1e19, .max), (9_223_372_036_854_775_808.0, .max), (-9_223_372_036_854_775_808.0, .min),
        (-1e300, .min), (.infinity, .max), (-.infinity, .min), (.nan, 0),
    ] as [(Double, Int64)])
    func saturatingConversions(value: Double, expected: Int64) {
        #expect(Int64(saturating: value) == expected)
        #expect(Int(saturating: value) == Int(expected))
        #expect(Duration.saturatingSeconds(value).nanoseconds == Int64(saturating: value * 1e9))
        #expect((Int64(checkedSaturating: value) == nil) == value.isNaN)
    }

    @Test func timestampsSaturateInsteadOfWrapping() {
        let now = Timestamp(nanoseconds: 1_700_000_000_000_000_000)
        #expect(now + .saturatingSeconds(1e21) == Timestamp(nanoseconds: .max))
        #expect(now - .saturatingSeconds(1e21) == Timestamp(nanoseconds: 1_700_000_000_000_000_000 &- .max))
        #expect(Timestamp(seconds: 1e300).nanoseconds == .max)
    }
}
