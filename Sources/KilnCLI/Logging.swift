import Foundation
import Logging

/// The CLI's logger: to standard error, `KILN_LOG_LEVEL` (default warning).
func makeLogger() -> Logger {
    var logger = Logger(label: "kiln") { label in StreamLogHandler.standardError(label: label) }
    logger.logLevel = ProcessInfo.processInfo.environment["KILN_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .warning
    return logger
}
