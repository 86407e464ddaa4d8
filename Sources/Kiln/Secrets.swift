import Foundation
import KilnCore

/// Reads secrets from the environment or from files. Values are never logged.
public struct SecretSource: Sendable {
    public var environment: [String: String]
    public var baseDirectory: String

    public init(environment: [String: String] = ProcessInfo.processInfo.environment, baseDirectory: String = FileManager.default.currentDirectoryPath) {
        self.environment = environment
        self.baseDirectory = baseDirectory
    }

    public func fromEnvironment(_ name: String, for field: String) throws(KilnError) -> String {
        guard let value = environment[name], !value.isEmpty else {
            throw KilnError(.secretUnavailable, "environment variable \(name) is not set", location: field)
        }
        return value
    }

    public func fromFile(_ path: String, for field: String) throws(KilnError) -> String {
        let resolved = resolve(path)
        guard let data = FileManager.default.contents(atPath: resolved) else {
            throw KilnError(.secretUnavailable, "cannot read \(resolved)", location: field)
        }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    public func resolve(_ path: String) -> String {
        path.hasPrefix("/") ? path : (baseDirectory as NSString).appendingPathComponent(path)
    }
}
