import Foundation
import KilnCore

extension MessageFinisher {
    /// A recipient's template variables: a JSON object of strings, as the campaign
    /// ingest and `submit` store them. Read per message, so the common shape is parsed
    /// by hand (`flatStringObject`); anything else goes to `JSONDecoder`, whose error
    /// names the problem.
    static func variables(_ data: [UInt8], message: MessageID) throws(KilnError) -> [String: String] {
        if let parsed = flatStringObject(data) { return parsed }
        do { return try JSONDecoder().decode([String: String].self, from: Data(data)) } catch {
            throw KilnError(.renderingFailure, "the variables do not decode: \(error)", location: "message \(message)")
        }
    }

    /// `{"key": "value", ...}` with string values only and no repeated key; nil for any
    /// other input (then the decoder decides). Escapes as RFC 8259 §7.
    static func flatStringObject(_ data: [UInt8]) -> [String: String]? {
        data.withUnsafeBufferPointer { bytes -> [String: String]? in
            var i = 0
            let n = bytes.count
            func skipSpace() { while i < n, bytes[i] == 32 || bytes[i] == 9 || bytes[i] == 10 || bytes[i] == 13 { i += 1 } }
            func hex4() -> UInt32? {
                guard i + 4 <= n else { return nil }
                var value: UInt32 = 0
                for _ in 0..<4 {
                    let c = bytes[i]
                    let digit: UInt8
                    switch c {
                    case 48...57: digit = c - 48
                    case 65...70: digit = c - 55
                    case 97...102: digit = c - 87
                    default: return nil
                    }
                    value = value << 4 | UInt32(digit)
                    i += 1
                }
                return value
            }
            func string() -> String? {
                guard i < n, bytes[i] == 34 else { return nil }
                i += 1
                let start = i
                // The plain case: no escape before the closing quote.
                while i < n, bytes[i] != 34, bytes[i] != 92, bytes[i] >= 32 { i += 1 }
                guard i < n else { return nil }
                if bytes[i] == 34 {
                    defer { i += 1 }
                    return String(validating: UnsafeBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self)
                }
                var out = Array(bytes[start..<i])
                while i < n {
                    let c = bytes[i]
                    if c == 34 {
                        i += 1
                        return String(validating: out, as: UTF8.self)
                    }
                    guard c >= 32 else { return nil }
                    guard c == 92 else { out.append(c); i += 1; continue }
                    i += 1
                    guard i < n else { return nil }
                    let e = bytes[i]
                    i += 1
                    switch e {
                    case 34, 92, 47: out.append(e)
                    case 98: out.append(8)
                    case 102: out.append(12)
                    case 110: out.append(10)
                    case 114: out.append(13)
                    case 116: out.append(9)
                    case 117:
                        guard var scalar = hex4() else { return nil }
                        if (0xD800..<0xDC00).contains(scalar) {
                            guard i + 2 <= n, bytes[i] == 92, bytes[i + 1] == 117 else { return nil }
                            i += 2
                            guard let low = hex4(), (0xDC00..<0xE000).contains(low) else { return nil }
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        }
                        guard let unicode = Unicode.Scalar(scalar) else { return nil }
                        out += Array(String(Character(unicode)).utf8)
                    default: return nil
                    }
                }
                return nil
            }
            var result: [String: String] = [:]
            skipSpace()
            guard i < n, bytes[i] == 123 else { return nil }
            i += 1
            skipSpace()
            if i < n, bytes[i] == 125 {
                i += 1
                skipSpace()
                return i == n ? result : nil
            }
            while true {
                skipSpace()
                guard let key = string() else { return nil }
                skipSpace()
                guard i < n, bytes[i] == 58 else { return nil }
                i += 1
                skipSpace()
                guard let value = string(), result.updateValue(value, forKey: key) == nil else { return nil }
                skipSpace()
                guard i < n else { return nil }
                if bytes[i] == 44 { i += 1; continue }
                guard bytes[i] == 125 else { return nil }
                i += 1
                skipSpace()
                return i == n ? result : nil
            }
        }
    }
}
