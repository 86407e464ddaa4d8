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

    /// This process's environment with `extra` added (or replaced), for a child.
    public static func environment(adding extra: [String: String]) -> [String: String] {
        ProcessInfo.processInfo.environment.merging(extra) { _, new in new }
    }

    /// Runs a child to its end on the calling thread (see `run`).
    public static func runBlocking(_ executable: String, _ arguments: [String], stdin: [UInt8] = [], directory: String? = nil,
                                   environment: [String: String]? = nil) throws -> ChildProcess {
        let input = try pipe(), output = try pipe(), errors = try pipe()
        let process: SpawnedProcess
        do {
            process = try SpawnedProcess(executable, arguments, environment: environment, directory: directory,
                                         stdin: input.read, stdout: output.write, stderr: errors.write)
        } catch {
            for fd in [input.read, input.write, output.read, output.write, errors.read, errors.write] { close(fd) }
            throw error
        }
        // The child's ends are its own now; the parent keeps the other ends only.
        close(input.read)
        close(output.write)
        close(errors.write)
        Thread {
            writeAll(input.write, stdin)
            close(input.write)
        }.start()
        let errorText = ErrorText()
        let done = DispatchSemaphore(value: 0)
        Thread {
            errorText.data = readToEnd(errors.read)
            close(errors.read)
            done.signal()
        }.start()
        let out = readToEnd(output.read)
        close(output.read)
        done.wait()
        process.waitUntilExit()
        return ChildProcess(status: process.terminationStatus, stdout: String(decoding: out, as: UTF8.self),
                            stderr: String(decoding: errorText.data, as: UTF8.self),
                            signaled: process.terminationReason == .uncaughtSignal)
    }

    /// A pipe whose two ends close on exec (the child gets its end through dup2 only;
    /// a child also closes every descriptor from 3 up, see `SpawnedProcess`).
    static func pipe() throws -> (read: Int32, write: Int32) {
        var fds: [Int32] = [0, 0]
        guard Glibc.pipe(&fds) == 0 else {
            throw NSError(domain: NSPOSIXErrorDomain, code: Int(errno), userInfo: [NSLocalizedDescriptionKey: "pipe"])
        }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        return (fds[0], fds[1])
    }
}

/// Writes all of `bytes` to `fd`, retrying when interrupted; stops if the reader is gone.
func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
    var sent = 0
    while sent < bytes.count {
        let n = bytes[sent...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        if n > 0 {
            sent += n
        } else if n < 0, errno == EINTR {
            continue
        } else {
            return
        }
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
