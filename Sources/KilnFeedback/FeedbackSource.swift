import Foundation
import KilnCore

/// Reads feedback messages from a file, an mbox, a maildir or a JSON notification file,
/// one at a time: an mbox is read in 1 MiB chunks and split at its `From ` lines, so that
/// memory stays near one report whatever the mailbox's size. A report larger than
/// `limit` bytes is not read: `skipped` gets its name and size.
public struct FeedbackSource: Sendable {
    /// The largest report read, in bytes (`feedback.maxReportBytes`).
    public let limit: Int
    static let chunkBytes = 1 << 20

    public init(limit: Int) { self.limit = limit }

    public typealias Skipped = (_ name: String, _ bytes: Int) -> Void
    public typealias Body = (_ name: String, _ bytes: [UInt8]) async throws -> Void

    /// Calls `body` with each report at `path` (a file or a folder: maildir `new` and `cur`, else its files).
    public func forEach(at path: String, skipped: Skipped, _ body: Body) async throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw KilnError(.invalidInput, "\(path): no such file or folder")
        }
        guard isDirectory.boolValue else { return try await forEach(inFile: path, skipped: skipped, body) }
        let subfolders = ["new", "cur"].map { (path as NSString).appendingPathComponent($0) }
        let folders = subfolders.filter { FileManager.default.fileExists(atPath: $0) }
        for folder in folders.isEmpty ? [path] : folders {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
            for name in names.sorted() where !name.hasPrefix(".") {
                let full = (folder as NSString).appendingPathComponent(name)
                var sub: ObjCBool = false
                if FileManager.default.fileExists(atPath: full, isDirectory: &sub), !sub.boolValue {
                    try await forEach(inFile: full, skipped: skipped, body)
                }
            }
        }
    }

    func forEach(inFile path: String, skipped: Skipped, _ body: Body) async throws {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw KilnError(.invalidInput, "\(path): cannot be read") }
        defer { try? handle.close() }
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        let head = [UInt8]((try? handle.read(upToCount: 4096)) ?? Data())
        let firstNonSpace = head.first { $0 != 32 && $0 != 9 && $0 != 10 && $0 != 13 }
        if head.starts(with: Array("From ".utf8)) {
            try handle.seek(toOffset: 0)
            return try await forEachInMbox(handle, path: path, skipped: skipped, body)
        }
        if firstNonSpace == UInt8(ascii: "{"), size > limit {
            // Too large for one notification: one object per line, each within the limit.
            try handle.seek(toOffset: 0)
            var number = 0
            try await forEachLine(handle) { line, length in
                number += 1
                guard line.contains(where: { $0 != 32 && $0 != 13 }) else { return }
                if length > limit { skipped("\(path):\(number)", length) } else { try await body("\(path):\(number)", line) }
            }
            return
        }
        guard size <= limit else { return skipped(path, size) }
        try handle.seek(toOffset: 0)
        let bytes = [UInt8](try handle.readToEnd() ?? Data())
        if firstNonSpace == UInt8(ascii: "[") {
            guard let array = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [Any] else {
                throw KilnError(.invalidInput, "\(path): not valid JSON")
            }
            for (index, element) in array.enumerated() {
                try await body("\(path)[\(index)]", [UInt8](try JSONSerialization.data(withJSONObject: element)))
            }
            return
        }
        if firstNonSpace == UInt8(ascii: "{"), (try? JSONSerialization.jsonObject(with: Data(bytes))) == nil {
            let lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
            for (index, line) in lines.enumerated() where line.contains(where: { $0 != 32 && $0 != 13 }) {
                try await body("\(path):\(index + 1)", Array(line))
            }
            return
        }
        try await body(path, bytes)
    }

    /// mbox: a message starts at a `From ` line after a blank line (or at the start);
    /// `>From ` lines lose their `>`.
    func forEachInMbox(_ handle: FileHandle, path: String, skipped: Skipped, _ body: Body) async throws {
        var current: [UInt8] = []
        var size = 0
        var lineNumber = 0, startLine = 1
        var previousBlank = true
        func finish() async throws {
            if size > limit {
                skipped("\(path):\(startLine)", size)
            } else if current.contains(where: { $0 != 10 && $0 != 13 }) {
                try await body("\(path):\(startLine)", current)
            }
            current = []
            size = 0
        }
        try await forEachLine(handle) { line, length in
            lineNumber += 1
            if previousBlank, line.starts(with: Array("From ".utf8)) {
                if lineNumber > 1 { try await finish() }
                startLine = lineNumber
                previousBlank = false
                return
            }
            let content = line.starts(with: Array(">From ".utf8)) ? line.dropFirst() : line[...]
            size += length + 1
            if size <= limit {
                current += content
                current.append(10)
            } else if !current.isEmpty {
                current = []
            }
            previousBlank = line.isEmpty || line == [13]
        }
        try await finish()
    }

    /// Calls `line` with each line (without its LF) and its full length; a line longer
    /// than the limit is passed cut to `limit + 1` bytes, so memory stays bounded.
    func forEachLine(_ handle: FileHandle, _ line: ([UInt8], Int) async throws -> Void) async throws {
        var pending: [UInt8] = []
        var pendingLength = 0
        while let chunk = try handle.read(upToCount: Self.chunkBytes), !chunk.isEmpty {
            let bytes = [UInt8](chunk)
            var start = 0
            while let newline = bytes[start...].firstIndex(of: 10) {
                let piece = bytes[start..<newline]
                pendingLength += piece.count
                if pending.count <= limit { pending += piece.prefix(limit + 1 - pending.count) }
                try await line(pending, pendingLength)
                pending = []
                pendingLength = 0
                start = newline + 1
            }
            let rest = bytes[start...]
            pendingLength += rest.count
            if pending.count <= limit { pending += rest.prefix(limit + 1 - pending.count) }
        }
        if pendingLength > 0 { try await line(pending, pendingLength) }
    }
}
