import Foundation
import KilnTesting
import Testing

/// The tests' child-process runner: output read whole from both pipes at once, input
/// written, the exit status and a death by signal told apart.
@Suite struct ChildProcessTests {
    /// A child that writes more to standard error than a pipe holds (64 KiB) before it
    /// writes to standard output: read one pipe after the other, the two would wait for
    /// each other for ever.
    @Test func aChildFillingStandardErrorFirstDoesNotDeadlock() async throws {
        let output = try await ChildProcess.run("/bin/sh", ["-c", "head -c 200000 /dev/zero | tr '\\000' x >&2; echo done"])
        #expect(output.status == 0 && !output.signaled)
        #expect(output.stdout == "done\n")
        #expect(output.stderr.utf8.count == 200_000 && output.stderr.allSatisfy { $0 == "x" })
    }

    @Test func inputReachesTheChildAndItsStatusComesBack() async throws {
        let output = try await ChildProcess.run("/bin/sh", ["-c", "tr a-z A-Z; exit 3"], stdin: Array("kiln\n".utf8))
        #expect(output.stdout == "KILN\n")
        #expect(output.status == 3 && !output.signaled)
    }

    @Test func aChildKilledByASignalIsToldApart() async throws {
        let output = try await ChildProcess.run("/bin/sh", ["-c", "kill -9 $$"])
        #expect(output.signaled)
    }

    /// A child gets no descriptor of the test process but its three streams: a pipe end
    /// it kept would hold another child's output open.
    @Test func aChildInheritsNoOtherDescriptor() async throws {
        // A descriptor of its own (never a fixed number: dup2 onto one would close whatever
        // another test holds there), not closed on exec.
        let fd = open("/dev/null", O_RDONLY)
        defer { close(fd) }
        #expect(fd > 2)
        let output = try await ChildProcess.run("/bin/sh", ["-c", "if [ -e /proc/self/fd/\(fd) ]; then echo open; else echo closed; fi"])
        #expect(output.stdout == "closed\n")
    }

    @Test func aChildRunsInTheDirectoryItIsGiven() async throws {
        let output = try await ChildProcess.run("/bin/sh", ["-c", "pwd"], directory: "/tmp")
        #expect(output.stdout == "/tmp\n")
    }
}
