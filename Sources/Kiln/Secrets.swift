import Foundation
import KilnCore

/// Reads secrets from the environment or from files. Values are never logged and never
/// appear in an error: errors name the JSON path of the field that names the secret.
///
/// A secret is trimmed of surrounding whitespace and must then be at least
/// `minimumLength` bytes (a whitespace-only file would otherwise be an empty HMAC key,
/// and every unsubscribe token forgeable). A secret file may be at most `maxFileBytes`.
public struct SecretSource: Sendable {
    public var environment: [String: String]
    public var baseDirectory: String

    /// The fewest bytes a secret may have after trimming.
    public static let minimumLength = 16
    /// The largest secret or key file read (checked before reading).
    public static let maxFileBytes = 64 * 1024

    public init(environment: [String: String] = ProcessInfo.processInfo.environment, baseDirectory: String = FileManager.default.currentDirectoryPath) {
        self.environment = environment
        self.baseDirectory = baseDirectory
    }

    /// A plain value from the environment (a user name): set and not empty.
    public func valueFromEnvironment(_ name: String, for field: String) throws(KilnError) -> String {
        guard let value = environment[name]?.trimmingCharacters(in: .whitespacesAndNewlines), !value.isEmpty else {
            throw KilnError(.secretUnavailable, "environment variable \(name) is not set", location: field)
        }
        return value
    }

    /// A secret from the environment, trimmed, at least `minimumLength` bytes (a relay's
    /// password, chosen by someone else, only needs to be there: pass 1).
    public func fromEnvironment(_ name: String, for field: String, minimumLength: Int = SecretSource.minimumLength) throws(KilnError) -> String {
        guard let raw = environment[name] else {
            throw KilnError(.secretUnavailable, "environment variable \(name) is not set", location: field)
        }
        return try Self.checked(raw, what: "environment variable \(name)", field: field, minimumLength: minimumLength)
    }

    /// A secret from a file (at most `maxFileBytes`), trimmed, at least `minimumLength` bytes.
    public func fromFile(_ path: String, for field: String, minimumLength: Int = SecretSource.minimumLength) throws(KilnError) -> String {
        let resolved = resolve(path)
        let data = try Self.readSmallFile(resolved, what: "the secret file", field: field)
        return try Self.checked(String(decoding: data, as: UTF8.self), what: resolved, field: field, minimumLength: minimumLength)
    }

    /// A secret named by a file field or an environment field of the object at `path`
    /// (`path.fileKey`, else `path.environmentKey`): the file when one is named, else the
    /// environment variable (an error naming the field when it is not set either).
    public func fromFileOrEnvironment(file: String?, environment: String?, at path: String, fileKey: String = "secretFile",
                                      environmentKey: String = "secretEnv", minimumLength: Int = SecretSource.minimumLength) throws(KilnError) -> String {
        if let file { return try fromFile(file, for: "\(path).\(fileKey)", minimumLength: minimumLength) }
        return try fromEnvironment(environment ?? "", for: "\(path).\(environmentKey)", minimumLength: minimumLength)
    }

    static func checked(_ raw: String, what: String, field: String, minimumLength: Int) throws(KilnError) -> String {
        let value = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        if value.isEmpty {
            throw KilnError(.secretUnavailable, "\(what) is empty or only whitespace", location: field)
        }
        guard value.utf8.count >= minimumLength else {
            throw KilnError(.secretUnavailable, "the secret in \(what) is \(value.utf8.count) bytes; at least \(minimumLength) are needed", location: field)
        }
        return value
    }

    /// The contents of a regular file of at most `maxFileBytes`, its size checked
    /// before it is read (a 200 MB "PEM" or /dev/zero is refused unread).
    public static func readSmallFile(_ path: String, what: String, field: String) throws(KilnError) -> Data {
        guard !path.utf8.contains(0) else { throw KilnError(.secretUnavailable, "\(what) path contains a NUL byte", location: field) }
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw KilnError(.secretUnavailable, "cannot read \(what) \(path): \(String(cString: strerror(errno)))", location: field)
        }
        guard info.st_mode & S_IFMT == S_IFREG else { throw KilnError(.secretUnavailable, "\(what) \(path) is not a regular file", location: field) }
        guard info.st_size <= maxFileBytes else {
            throw KilnError(.secretUnavailable, "\(what) \(path) is \(info.st_size) bytes; at most \(maxFileBytes)", location: field)
        }
        guard let handle = FileHandle(forReadingAtPath: path) else { throw KilnError(.secretUnavailable, "cannot read \(what) \(path)", location: field) }
        defer { try? handle.close() }
        let data: Data
        do { data = try handle.read(upToCount: maxFileBytes + 1) ?? Data() } catch {
            throw KilnError(.secretUnavailable, "cannot read \(what) \(path)", location: field)
        }
        guard data.count <= maxFileBytes else { throw KilnError(.secretUnavailable, "\(what) \(path) is over \(maxFileBytes) bytes", location: field) }
        return data
    }

    public func resolve(_ path: String) -> String {
        path.hasPrefix("/") ? path : (baseDirectory as NSString).appendingPathComponent(path)
    }
}
