import Foundation
import KilnCore
import KilnStore

/// What an import of a suppression list did.
public struct SuppressionImport: Sendable, Hashable {
    /// Addresses newly added (or replaced).
    public var added = 0
    /// Rows skipped: not an address, a wrong column count, an unknown reason.
    public var rejected = 0
}

extension SendEngine {
    /// Adds the addresses of a CSV file to the suppression list (a header row with an
    /// `email` column and optionally `reason`), read a megabyte at a time and stored in
    /// batches of 5,000. A UTF-8 byte order mark is skipped (by `CSVParser`).
    /// - Parameters:
    ///   - configurationSet: the list to add to; nil for the account-wide list.
    ///   - reason: the reason of rows without a `reason` column.
    ///   - skipped: called for each skipped row with its line and why.
    @discardableResult
    public func importSuppressions(
        from path: String, configurationSet: String? = nil, reason: SuppressionReason = .manual,
        skipped: (Int, String) -> Void = { _, _ in }
    ) async throws(KilnError) -> SuppressionImport {
        try validateConfigurationSet(configurationSet)
        guard let handle = FileHandle(forReadingAtPath: path) else { throw KilnError(.invalidInput, "cannot read the file", location: path) }
        defer { try? handle.close() }
        var parser = CSVParser()
        var columns: [String]?
        var batch: [SuppressionEntry] = []
        var result = SuppressionImport()
        var failure: KilnError?
        let time = now()
        func take(_ item: CSVParser.Item) {
            guard case .record(let record) = item else {
                if case .malformed(let line, let why) = item {
                    result.rejected += 1
                    skipped(line, why)
                }
                return
            }
            guard let header = columns else {
                let names = record.fields.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
                columns = names
                if !names.contains("email") { failure = KilnError(.invalidInput, "line \(record.line): the header has no 'email' column", location: path) }
                return
            }
            let emailIndex = header.firstIndex(of: "email")!
            guard record.fields.count == header.count, !record.invalidUTF8Fields.contains(emailIndex),
                  let address = try? EmailAddress(record.fields[emailIndex]) else {
                result.rejected += 1
                skipped(record.line, "not an address or wrong column count")
                return
            }
            var rowReason = reason
            if let r = header.firstIndex(of: "reason"), !record.fields[r].isEmpty {
                guard let parsed = SuppressionReason(rawValue: record.fields[r].uppercased()) else {
                    result.rejected += 1
                    skipped(record.line, "unknown reason '\(record.fields[r].escapingControlCharacters)'")
                    return
                }
                rowReason = parsed
            }
            batch.append(SuppressionEntry(address: address.description, scope: configurationSet, reason: rowReason, source: "import \(path)", createdAt: time))
        }
        while true {
            let chunk = handle.readData(ofLength: 1 << 20)
            if chunk.isEmpty { break }
            parser.feed([UInt8](chunk)) { take($0) }
            if let failure { throw failure }
            if batch.count >= 5_000 {
                result.added += try await store.suppress(batch, replace: false)
                batch.removeAll(keepingCapacity: true)
            }
        }
        parser.finish { take($0) }
        if let failure { throw failure }
        result.added += try await store.suppress(batch, replace: false)
        return result
    }
}
