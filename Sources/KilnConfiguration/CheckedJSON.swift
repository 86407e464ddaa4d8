import Foundation
import KilnCore

/// Decodes JSON read from outside (a configuration, a scenario) so that every problem
/// names where it is: `JSONScanner` first (syntax, invalid UTF-8, duplicate keys, depth,
/// numbers out of a `Double`'s range, each with path, line and column), then
/// `JSONDecoder`. The decoder reports a fraction or `1e20` where an integer is expected
/// without a path ("The given data was not valid JSON"); then each inexact number is
/// put in quotes and the input decoded again, so that the decoder's type error names
/// the key that wants an integer (numbers under keys that take them, a `Double`, a
/// negative `Int`, are put back and it tries again).
public enum CheckedJSON {
    /// The most decoding rounds spent tracing a path-less decoder error to its number.
    static let maxRounds = 64

    /// `data` without a leading UTF-8 byte order mark.
    public static func withoutBOM(_ data: Data) -> Data {
        data.starts(with: [0xEF, 0xBB, 0xBF]) ? data.dropFirst(3) : data
    }

    /// Decodes `type` from `data`; throws `.invalidConfiguration` naming `source` and
    /// the problem's JSON path (or line and column).
    public static func decode<T: Decodable>(_ type: T.Type, from data: Data, source: String) throws(KilnError) -> T {
        let bytes = [UInt8](withoutBOM(data))
        let inexact: [JSONScanner.InexactNumber]
        do { inexact = try JSONScanner.scan(bytes) } catch { throw Configuration.invalid([error.problem], source: source) }
        do {
            return try JSONDecoder().decode(T.self, from: Data(bytes))
        } catch let error as DecodingError {
            if case .dataCorrupted(let context) = error, context.codingPath.isEmpty, !inexact.isEmpty {
                throw Configuration.invalid([trace(T.self, bytes: bytes, inexact: inexact)], source: source)
            }
            var problem = Configuration.problem(from: error)
            if case .keyNotFound(let key, let context) = error, let near = nearKey(to: key.stringValue, at: context.codingPath, in: bytes) {
                // `senderID` written for `senderId`: say so, not only that one is missing.
                problem.message += " (the file has '\(near)': did you mean '\(key.stringValue)'?)"
            }
            throw Configuration.invalid([problem], source: source)
        } catch {
            throw Configuration.invalid([ConfigurationProblem(path: "", message: "\(error)")], source: source)
        }
    }

    /// A key of the JSON object at `path` that is close to `key` (a different case, or at
    /// most two edits away), when the object lacks `key` itself.
    static func nearKey(to key: String, at path: [any CodingKey], in bytes: [UInt8]) -> String? {
        guard var node = try? JSONSerialization.jsonObject(with: Data(bytes)) else { return nil }
        for component in path {
            if let index = component.intValue, let array = node as? [Any], index < array.count {
                node = array[index]
            } else if let object = node as? [String: Any], let child = object[component.stringValue] {
                node = child
            } else {
                return nil
            }
        }
        guard let object = node as? [String: Any] else { return nil }
        return Configuration.closest(to: key, among: Array(object.keys))
    }

    /// The number that made the decoder fail, found by quoting inexact numbers.
    static func trace<T: Decodable>(_ type: T.Type, bytes: [UInt8], inexact: [JSONScanner.InexactNumber]) -> ConfigurationProblem {
        var quoted = Array(repeating: true, count: inexact.count)
        for _ in 0..<maxRounds {
            var rewritten: [UInt8] = []
            rewritten.reserveCapacity(bytes.count + 2 * inexact.count)
            var copied = 0
            for (number, quote) in zip(inexact, quoted) where quote {
                rewritten += bytes[copied..<number.range.lowerBound]
                rewritten += [UInt8(ascii: "\"")] + bytes[number.range] + [UInt8(ascii: "\"")]
                copied = number.range.upperBound
            }
            rewritten += bytes[copied...]
            do {
                _ = try JSONDecoder().decode(T.self, from: Data(rewritten))
                break
            } catch DecodingError.typeMismatch(let expected, let context) {
                let path = Configuration.jsonPath(context.codingPath)
                guard let found = inexact.firstIndex(where: { $0.path == path }) else {
                    return ConfigurationProblem(path: path, message: "expected \(Configuration.typeName(expected))")
                }
                if representable(inexact[found].text, as: expected) {
                    // This key takes such a number: put back every number under the same key.
                    let pattern = wildcard(path)
                    for i in inexact.indices where wildcard(inexact[i].path) == pattern { quoted[i] = false }
                    continue
                }
                return ConfigurationProblem(path: path, message: "expected \(Configuration.typeName(expected)), found \(inexact[found].text)")
            } catch let error as DecodingError {
                if case .dataCorrupted(let context) = error, context.codingPath.isEmpty { break }
                return Configuration.problem(from: error)
            } catch {
                break
            }
        }
        let first = inexact[0]
        let (line, column) = JSONScanner.lineAndColumn(of: first.range.lowerBound, in: bytes)
        return ConfigurationProblem(path: first.path, message: "line \(line), column \(column): \(first.text) is not a valid value here (an integer from -2^63 to 2^63-1?)")
    }

    /// Whether the decoder takes `text` as a value of `type`.
    static func representable(_ text: String, as type: Any.Type) -> Bool {
        switch type {
        case is Double.Type, is Float.Type: true
        case is Int.Type, is Int64.Type: Int64(text) != nil
        case is UInt64.Type, is UInt.Type: UInt64(text) != nil
        default: false
        }
    }

    /// `pools[3].warmupSchedule[7]` → `pools[*].warmupSchedule[*]`.
    static func wildcard(_ path: String) -> String {
        var out = ""
        var inBrackets = false
        for c in path {
            if c == "[" { inBrackets = true; out += "[*" } else if c == "]" { inBrackets = false; out.append(c) } else if !inBrackets { out.append(c) }
        }
        return out
    }
}
