import Foundation
@testable import KilnConfiguration
import KilnCore
import Testing

/// `docs/configuration.md` documents every key of the configuration, and nothing else.
///
/// How the keys are found. `Configuration.properties(of:)` (the Mirror-based listing that
/// `unknownKeys` uses for its "did you mean" hints) names the stored properties of a value.
/// Mirror needs a value, and a nil optional or an empty array has no children to look
/// into, so the walk starts from a *sample*: a `Configuration` decoded by `SampleDecoder`
/// below, which says every key is present, gives every array one element and every
/// dictionary one entry (`<id>`). Every optional section (`submission.smtp.tls`,
/// `tenants[].quota`, ...) is therefore populated, whatever types are added later.
///
/// What Mirror cannot do alone, and how it is done here:
/// - A string-backed enum cannot be made from the sample string. An optional one is left
///   nil (its key is still listed by Mirror; an enum has no keys below it). A required one
///   takes its value from `requiredEnumSamples`; a new required enum fails the test with a
///   message saying to add it there.
/// - A type with its own `Codable` (`RouteList`: a string or a list of strings) is a struct
///   to Mirror but not an object in JSON. Whether a value is an object is decided by
///   encoding it: only values that encode to a JSON object are walked into.
/// - Coding keys are taken to be the property names (`properties(of:)` strips a leading
///   `_`). No configuration type renames its keys; the second test would fail if one did,
///   since the documented key (the JSON name) would not be found.
///
/// Paths are written `store.path`, `identities[].dkim[].selector`, `providers.<id>.coldHourly`.
/// The document's paths are the backticked words in the first cell of its table rows.
@Suite struct ConfigurationDocTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Required enums: the sample decoder cannot invent their raw values.
    static let requiredEnumSamples: [ObjectIdentifier: any Sendable] = [
        ObjectIdentifier(Configuration.DeliveryMode.self): Configuration.DeliveryMode.mx,
    ]

    @Test func everyConfigurationKeyIsDocumented() throws {
        let (keys, problems) = try Self.configurationKeys()
        #expect(problems.isEmpty, "the sample could not fill these: \(problems)")
        let documented = try Self.documentedPaths()
        let missing = keys.subtracting(documented).sorted()
        #expect(missing.isEmpty, "not in docs/configuration.md: \(missing.joined(separator: ", "))")
        // The walk itself found the deep keys (a sample that left sections empty would not).
        for key in ["store.path", "identities[].dkim[].selector", "submission.smtp.tls.certificateFile",
                    "tenants[].quota.maxPerSecond", "providers.<id>.coldHourly", "delivery.routes.<id>",
                    "configurationSets[].eventDestinations[].timeoutSeconds", "pools[].ips"] {
            #expect(keys.contains(key), "the walk did not reach \(key)")
        }
    }

    @Test func everyDocumentedPathExists() throws {
        let (keys, _) = try Self.configurationKeys()
        let documented = try Self.documentedPaths()
        #expect(documented.count > 50)
        let unknown = documented.subtracting(keys).sorted()
        #expect(unknown.isEmpty, "documented but not a configuration key: \(unknown.joined(separator: ", "))")
    }

    // MARK: - The document

    static func documentedPaths() throws -> Set<String> {
        let text = try String(contentsOf: root.appendingPathComponent("docs/configuration.md"), encoding: .utf8)
        var paths = Set<String>()
        for line in text.split(separator: "\n") where line.hasPrefix("| `") {
            let firstCell = line.dropFirst(2).prefix { $0 != "|" }
            let parts = firstCell.split(separator: "`", omittingEmptySubsequences: false)
            for (index, part) in parts.enumerated() where index % 2 == 1 { paths.insert(String(part)) }
        }
        return paths
    }

    // MARK: - The keys, by Mirror over a sample

    static func configurationKeys() throws -> (keys: Set<String>, problems: [String]) {
        let log = SampleLog()
        let sample = try Configuration(from: SampleDecoder(log: log))
        var keys = Set<String>()
        walk(sample, prefix: "", into: &keys)
        return (keys, log.problems)
    }

    /// Adds the leaf paths under `value` (an object) to `keys`.
    static func walk(_ value: Any, prefix: String, into keys: inout Set<String>) {
        for (name, child) in Configuration.properties(of: value) {
            let path = prefix.isEmpty ? name : "\(prefix).\(name)"
            guard let child, Mirror(reflecting: child).displayStyle != .optional else {
                keys.insert(path)  // nil: an optional enum the sample could not make
                continue
            }
            add(child, at: path, into: &keys)
        }
    }

    static func add(_ value: Any, at path: String, into keys: inout Set<String>) {
        switch Mirror(reflecting: value).displayStyle {
        case .dictionary:
            let entries = (value as? [String: Any]) ?? [:]
            if entries.isEmpty { keys.insert(path) }
            for (key, entry) in entries { add(entry, at: "\(path).\(key)", into: &keys) }
        case .collection:
            let elements = (value as? [Any]) ?? []
            if let first = elements.first, isObject(first) {
                walk(first, prefix: "\(path)[]", into: &keys)
            } else {
                keys.insert(path)
            }
        default:
            if isObject(value) { walk(value, prefix: path, into: &keys) } else { keys.insert(path) }
        }
    }

    /// Whether a value is written as a JSON object (a struct with its own coding, such as
    /// `RouteList`, is written as a string or a list).
    static func isObject(_ value: Any) -> Bool {
        guard let encodable = value as? any Encodable,
              let data = try? JSONEncoder().encode(encodable),
              let json = try? JSONSerialization.jsonObject(with: data, options: .fragmentsAllowed) else { return false }
        return json is [String: Any]
    }
}

// MARK: - A decoder that answers every question

/// Where the sample decoder could not make a value.
final class SampleLog: @unchecked Sendable {
    var problems: [String] = []
}

/// Decodes any `Decodable` with every key present: strings `sample`, numbers 1, `true`,
/// one element per array, one entry (`<id>`) per dictionary.
struct SampleDecoder: Decoder {
    let log: SampleLog
    var codingPath: [any CodingKey] = []
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        KeyedDecodingContainer(Keyed<Key>(decoder: self))
    }
    func unkeyedContainer() throws -> any UnkeyedDecodingContainer { Unkeyed(decoder: self) }
    func singleValueContainer() throws -> any SingleValueDecodingContainer { Single(decoder: self) }

    func child(_ key: any CodingKey) -> SampleDecoder {
        SampleDecoder(log: log, codingPath: codingPath + [key])
    }

    /// A sample of `T`, or a required enum's listed sample.
    func sample<T: Decodable>(_ type: T.Type) throws -> T {
        do {
            return try T(from: self)
        } catch {
            if let value = ConfigurationDocTests.requiredEnumSamples[ObjectIdentifier(T.self)] as? T { return value }
            throw error
        }
    }

    struct Index: CodingKey {
        var stringValue: String { "\(intValue ?? 0)" }
        var intValue: Int?
        init(_ index: Int) { intValue = index }
        init?(stringValue: String) { nil }
        init?(intValue: Int) { self.intValue = intValue }
    }

    struct Keyed<Key: CodingKey>: KeyedDecodingContainerProtocol {
        let decoder: SampleDecoder
        var codingPath: [any CodingKey] { decoder.codingPath }
        var allKeys: [Key] { [Key(stringValue: "<id>")].compactMap { $0 } }
        func contains(_ key: Key) -> Bool { true }
        func decodeNil(forKey key: Key) throws -> Bool { false }
        func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try Single(decoder: decoder.child(key)).decode(type) }
        func decode(_ type: String.Type, forKey key: Key) throws -> String { try Single(decoder: decoder.child(key)).decode(type) }
        func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try Single(decoder: decoder.child(key)).decode(type) }
        func decode(_ type: Float.Type, forKey key: Key) throws -> Float { try Single(decoder: decoder.child(key)).decode(type) }
        func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try Single(decoder: decoder.child(key)).decode(type) }
        func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try Single(decoder: decoder.child(key)).decode(type) }
        func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try Single(decoder: decoder.child(key)).decode(type) }
        func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try Single(decoder: decoder.child(key)).decode(type) }
        func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try Single(decoder: decoder.child(key)).decode(type) }
        func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try Single(decoder: decoder.child(key)).decode(type) }
        func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try Single(decoder: decoder.child(key)).decode(type) }
        func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try Single(decoder: decoder.child(key)).decode(type) }
        func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try Single(decoder: decoder.child(key)).decode(type) }
        func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try Single(decoder: decoder.child(key)).decode(type) }
        func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
            try decoder.child(key).sample(T.self)
        }
        /// An optional that cannot be sampled stays nil: fine for an enum (a leaf), a
        /// problem for anything else, since its keys would go unseen.
        func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
            do {
                return try decoder.child(key).sample(T.self)
            } catch {
                if !(T.self is any RawRepresentable.Type) {
                    decoder.log.problems.append("\(Configuration.jsonPath(decoder.codingPath + [key])) (\(T.self)): \(error)")
                }
                return nil
            }
        }
        func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
            try decoder.child(key).container(keyedBy: type)
        }
        func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer { Unkeyed(decoder: decoder.child(key)) }
        func superDecoder() throws -> any Decoder { decoder }
        func superDecoder(forKey key: Key) throws -> any Decoder { decoder.child(key) }
    }

    struct Unkeyed: UnkeyedDecodingContainer {
        let decoder: SampleDecoder
        var codingPath: [any CodingKey] { decoder.codingPath }
        var count: Int? { 1 }
        var currentIndex = 0
        var isAtEnd: Bool { currentIndex >= 1 }
        init(decoder: SampleDecoder) { self.decoder = decoder }
        mutating func decodeNil() throws -> Bool { false }
        mutating func decode(_ type: Bool.Type) throws -> Bool { defer { currentIndex += 1 }; return try Single(decoder: decoder).decode(type) }
        mutating func decode(_ type: String.Type) throws -> String { defer { currentIndex += 1 }; return try Single(decoder: decoder).decode(type) }
        mutating func decode(_ type: Double.Type) throws -> Double { defer { currentIndex += 1 }; return try Single(decoder: decoder).decode(type) }
        mutating func decode(_ type: Float.Type) throws -> Float { defer { currentIndex += 1 }; return try Single(decoder: decoder).decode(type) }
        mutating func decode(_ type: Int.Type) throws -> Int { defer { currentIndex += 1 }; return try Single(decoder: decoder).decode(type) }
        mutating func decode(_ type: Int8.Type) throws -> Int8 { defer { currentIndex += 1 }; return try Single(decoder: decoder).decode(type) }
        mutating func decode(_ type: Int16.Type) throws -> Int16 { defer { currentIndex += 1 }; return try Single(decoder: decoder).decode(type) }
        mutating func decode(_ type: Int32.Type) throws -> Int32 { defer { currentIndex += 1 }; return try Single(decoder: decoder).decode(type) }
        mutating func decode(_ type: Int64.Type) throws -> Int64 { defer { currentIndex += 1 }; return try Single(decoder: decoder).decode(type) }
        mutating func decode(_ type: UInt.Type) throws -> UInt { defer { currentIndex += 1 }; return try Single(decoder: decoder).decode(type) }
        mutating func decode(_ type: UInt8.Type) throws -> UInt8 { defer { currentIndex += 1 }; return try Single(decoder: decoder).decode(type) }
        mutating func decode(_ type: UInt16.Type) throws -> UInt16 { defer { currentIndex += 1 }; return try Single(decoder: decoder).decode(type) }
        mutating func decode(_ type: UInt32.Type) throws -> UInt32 { defer { currentIndex += 1 }; return try Single(decoder: decoder).decode(type) }
        mutating func decode(_ type: UInt64.Type) throws -> UInt64 { defer { currentIndex += 1 }; return try Single(decoder: decoder).decode(type) }
        mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
            defer { currentIndex += 1 }
            return try decoder.child(Index(currentIndex)).sample(T.self)
        }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
            defer { currentIndex += 1 }
            return try decoder.child(Index(currentIndex)).container(keyedBy: type)
        }
        mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
            defer { currentIndex += 1 }
            return Unkeyed(decoder: decoder.child(Index(currentIndex)))
        }
        mutating func superDecoder() throws -> any Decoder { decoder }
    }

    struct Single: SingleValueDecodingContainer {
        let decoder: SampleDecoder
        var codingPath: [any CodingKey] { decoder.codingPath }
        func decodeNil() -> Bool { false }
        func decode(_ type: Bool.Type) throws -> Bool { true }
        func decode(_ type: String.Type) throws -> String { "sample" }
        func decode(_ type: Double.Type) throws -> Double { 1 }
        func decode(_ type: Float.Type) throws -> Float { 1 }
        func decode(_ type: Int.Type) throws -> Int { 1 }
        func decode(_ type: Int8.Type) throws -> Int8 { 1 }
        func decode(_ type: Int16.Type) throws -> Int16 { 1 }
        func decode(_ type: Int32.Type) throws -> Int32 { 1 }
        func decode(_ type: Int64.Type) throws -> Int64 { 1 }
        func decode(_ type: UInt.Type) throws -> UInt { 1 }
        func decode(_ type: UInt8.Type) throws -> UInt8 { 1 }
        func decode(_ type: UInt16.Type) throws -> UInt16 { 1 }
        func decode(_ type: UInt32.Type) throws -> UInt32 { 1 }
        func decode(_ type: UInt64.Type) throws -> UInt64 { 1 }
        func decode<T: Decodable>(_ type: T.Type) throws -> T { try decoder.sample(T.self) }
    }
}
