import Logging

extension Logger {
    /// A logger for tests: warnings and worse only. At the default level (info) every
    /// attempt of every test is logged (tens of thousands of lines a run), and a failing
    /// run's output shows those rather than what went wrong.
    public static func test(_ label: String = "test") -> Logger {
        var logger = Logger(label: label)
        logger.logLevel = .warning
        return logger
    }
}
