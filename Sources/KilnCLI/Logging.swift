import ArgumentParser
import Foundation
import KilnCore
import Logging

/// The CLI's logger: to standard error, `KILN_LOG_LEVEL` (default warning).
func makeLogger() -> Logger {
    LogOptions.logger(format: .text, level: nil)
}

/// `--log-format json|text` and `--log-level`: the log lines on standard error. At `info`
/// a delivering run writes one line per attempt (message id, ip, provider, code, class,
/// duration). No secret and no message body is logged at any level.
struct LogOptions: ParsableArguments {
    @Option(name: .customLong("log-format"), help: "text (default) or json (one object per line).")
    var logFormat: LogFormat = .text
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning (default; or KILN_LOG_LEVEL), error, critical.")
    var logLevel: Logger.Level?

    enum LogFormat: String, ExpressibleByArgument, CaseIterable { case text, json }

    func makeLogger() -> Logger { Self.logger(format: logFormat, level: logLevel) }

    static func logger(format: LogFormat, level: Logger.Level?) -> Logger {
        var logger = Logger(label: "kiln") { label in
            format == .json ? JSONLogHandler(label: label) as any LogHandler : StreamLogHandler.standardError(label: label)
        }
        logger.logLevel = level ?? ProcessInfo.processInfo.environment["KILN_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .warning
        return logger
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

/// One JSON object per line on standard error: `time` (RFC 3339, UTC, milliseconds),
/// `level`, `label`, `message`, then the metadata's keys (a key named like one of those
/// is prefixed with `meta.`).
struct JSONLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(level: Logger.Level, message: Logger.Message, metadata extra: Logger.Metadata?, source: String, file: String, function: String, line: UInt) {
        var object: [String: String] = [:]
        var all = metadata
        if let provided = metadataProvider?.get() { all.merge(provided) { _, new in new } }
        if let extra { all.merge(extra) { _, new in new } }
        for (key, value) in all {
            object[["time", "level", "label", "message"].contains(key) ? "meta.\(key)" : key] = "\(value)"
        }
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        object["time"] = EventRecord.rfc3339(Timestamp(nanoseconds: Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec)))
        object["level"] = level.rawValue
        object["label"] = label
        object["message"] = "\(message)"
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(object) else { return }
        FileHandle.standardError.write(data + Data("\n".utf8))
    }
}
