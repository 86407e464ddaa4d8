import Foundation

/// Runs blocking work (a child process, blocking sockets) on a thread of its own and awaits
/// it. On Swift's cooperative pool (as many threads as cores: two here) a blocking wait
/// stalls every other test of the run for as long as it lasts.
public func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}

/// A child process run to its end, its output read whole.
public struct ChildProcess: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
    /// Whether the process died of a signal (a trap, a crash) rather than exiting.
    public var signaled: Bool

    /// Runs `executable` with `arguments`, writes `stdin` to it, and waits on threads of its
    /// own. Standard input, output and error are each served by their own thread, so a child
    /// that fills one pipe while the other is being read cannot deadlock with the test.
    public static func run(_ executable: String, _ arguments: [String], stdin: [UInt8] = [], directory: String? = nil,
                           environment: [String: String]? = nil) async throws -> ChildProcess {
        try await onOwnThread { try runBlocking(executable, arguments, stdin: stdin, directory: directory, environment: environment) }
    }

    static func runBlocking(_ executable: String, _ arguments: [String], stdin: [UInt8], directory: String?,
                            environment: [String: String]?) throws -> ChildProcess {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        if let environment { process.environment = environment }
        let input = Pipe(), output = Pipe(), errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let writer = Thread {
            if !stdin.isEmpty { input.fileHandleForWriting.write(Data(stdin)) }
            try? input.fileHandleForWriting.close()
        }
        writer.start()
        let errorText = ErrorText()
        let done = DispatchSemaphore(value: 0)
        Thread {
            errorText.data = errors.fileHandleForReading.readDataToEndOfFile()
            done.signal()
        }.start()
        let out = output.fileHandleForReading.readDataToEndOfFile()
        done.wait()
        process.waitUntilExit()
        return ChildProcess(status: process.terminationStatus, stdout: String(decoding: out, as: UTF8.self),
                            stderr: String(decoding: errorText.data, as: UTF8.self),
                            signaled: process.terminationReason == .uncaughtSignal)
    }
}

/// Standard error as read by its thread; read after the semaphore that thread signals.
private final class ErrorText: @unchecked Sendable {
    var data = Data()
}
