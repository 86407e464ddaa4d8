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

    /// Starts `process`, one start at a time in this test process. Children started from
    /// many threads at once (while a test called `setenv`, since removed) once crashed the
    /// suite inside Foundation's `Process.run()` (a bad read in its memcpy); starting them
    /// one at a time costs nothing measurable and rules the race out.
    public static func spawn(_ process: Process) throws {
        try spawning.withLock { try process.run() }
    }

    private static let spawning = NSLock()

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
        try spawn(process)
        let writer = Thread {
            if !stdin.isEmpty { input.fileHandleForWriting.write(Data(stdin)) }
            try? input.fileHandleForWriting.close()
        }
        writer.start()
        let errorText = ErrorText()
        let done = DispatchSemaphore(value: 0)
        Thread {
            errorText.data = readToEnd(errors.fileHandleForReading.fileDescriptor)
            done.signal()
        }.start()
        let out = readToEnd(output.fileHandleForReading.fileDescriptor)
        done.wait()
        process.waitUntilExit()
        return ChildProcess(status: process.terminationStatus, stdout: String(decoding: out, as: UTF8.self),
                            stderr: String(decoding: errorText.data, as: UTF8.self),
                            signaled: process.terminationReason == .uncaughtSignal)
    }
}

/// Everything read from `fd` until end of file. A read interrupted by a signal is tried
/// again (Foundation's `readDataToEndOfFile` stops the process on EINTR).
func readToEnd(_ fd: Int32) -> Data {
    var data = Data()
    var buffer = [UInt8](repeating: 0, count: 65_536)
    while true {
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n > 0 {
            data.append(contentsOf: buffer[0..<n])
        } else if n < 0, errno == EINTR {
            continue
        } else {
            return data
        }
    }
}

/// Standard error as read by its thread; read after the semaphore that thread signals.
private final class ErrorText: @unchecked Sendable {
    var data = Data()
}
