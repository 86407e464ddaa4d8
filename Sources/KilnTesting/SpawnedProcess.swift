import Foundation
import Glibc

/// A child process started with `posix_spawn`, for the tests. Not Foundation's `Process`:
/// on Linux its `run()` lists `/proc/self/fd` with a `d_name` copy that reads past glibc's
/// buffer (swift-corelibs-foundation PR #5472), and the suite, which holds many sockets
/// open, crashed there (SIGSEGV in memcpy) in 2 of about 10 runs. Here the child closes
/// every descriptor from 3 up (`posix_spawn_file_actions_addclosefrom_np`) without
/// listing them.
public final class SpawnedProcess: @unchecked Sendable {
    public let processIdentifier: pid_t
    private let lock = NSLock()
    private var ended: (status: Int32, signaled: Bool)?

    /// Starts `executable`.
    /// - Parameters:
    ///   - environment: the child's whole environment (nil: this process's).
    ///   - stdin, stdout, stderr: descriptors the child gets as 0, 1 and 2 (nil: /dev/null).
    public init(_ executable: String, _ arguments: [String], environment: [String: String]? = nil, directory: String? = nil,
                stdin: Int32? = nil, stdout: Int32? = nil, stderr: Int32? = nil) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for (target, source) in [(Int32(0), stdin), (1, stdout), (2, stderr)] {
            if let source {
                posix_spawn_file_actions_adddup2(&actions, source, target)
            } else {
                posix_spawn_file_actions_addopen(&actions, target, "/dev/null", target == 0 ? O_RDONLY : O_WRONLY, 0)
            }
        }
        if let closeFrom = Self.closeFrom { _ = closeFrom(&actions, 3) }
        if let directory {
            guard let addChdir = Self.addChdir else {
                throw NSError(domain: NSPOSIXErrorDomain, code: Int(ENOSYS), userInfo: [NSLocalizedDescriptionKey: "posix_spawn_file_actions_addchdir_np is missing"])
            }
            _ = addChdir(&actions, directory)
        }

        let argv = ([executable] + arguments).map { strdup($0) }
        let envp = (environment ?? ProcessInfo.processInfo.environment).map { strdup("\($0.key)=\($0.value)") }
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let result = (argv + [nil]).withUnsafeBufferPointer { args in
            (envp + [nil]).withUnsafeBufferPointer { env in
                posix_spawn(&pid, executable, &actions, nil, UnsafeMutablePointer(mutating: args.baseAddress!), UnsafeMutablePointer(mutating: env.baseAddress!))
            }
        }
        guard result == 0 else {
            throw NSError(domain: NSPOSIXErrorDomain, code: Int(result), userInfo: [NSLocalizedDescriptionKey: "posix_spawn \(executable): \(String(cString: strerror(result)))"])
        }
        processIdentifier = pid
    }

    // glibc's GNU extensions (2.29 and 2.34), which Swift's Glibc module does not show.
    private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    private typealias AddChdir = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32
    private static let closeFrom: AddCloseFrom? = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np").map { unsafeBitCast($0, to: AddCloseFrom.self) }
    private static let addChdir: AddChdir? = dlsym(nil, "posix_spawn_file_actions_addchdir_np").map { unsafeBitCast($0, to: AddChdir.self) }

    /// Whether the child has not ended yet (it is reaped when it has).
    public var isRunning: Bool {
        lock.withLock {
            if ended != nil { return false }
            return !reap(options: WNOHANG)
        }
    }

    /// Waits for the child to end.
    public func waitUntilExit() {
        lock.withLock {
            while ended == nil { _ = reap(options: 0) }
        }
    }

    /// The exit status, or the signal that ended the child (after `waitUntilExit`).
    public var terminationStatus: Int32 { waitAndRead().status }
    public var terminationReason: Process.TerminationReason { waitAndRead().signaled ? .uncaughtSignal : .exit }

    private func waitAndRead() -> (status: Int32, signaled: Bool) {
        waitUntilExit()
        return lock.withLock { ended! }
    }

    /// One `waitpid`; true when it reaped the child. Called under the lock.
    private func reap(options: Int32) -> Bool {
        var status: Int32 = 0
        let result = waitpid(processIdentifier, &status, options)
        if result == processIdentifier {
            // WIFEXITED: the low 7 bits are 0; then WEXITSTATUS, else WTERMSIG.
            ended = status & 0x7f == 0 ? ((status >> 8) & 0xff, false) : (status & 0x7f, true)
            return true
        }
        if result < 0, errno != EINTR {
            ended = (-1, false)
            return true
        }
        return false
    }
}
