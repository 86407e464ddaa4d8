import Foundation

/// Checks by independent implementations, run as Python subprocesses: dkimpy for DKIM
/// (`pip install dkimpy pynacl`) and the standard library's `email` package for MIME.
/// Each returns nil when Python or the package is missing, so that callers can skip.
public enum IndependentChecks {
    /// Whether `python3` can import `modules`.
    public static func pythonHas(_ modules: [String]) -> Bool {
        (try? run(["-c", modules.map { "import \($0)" }.joined(separator: "; ")], input: []))?.status == 0
    }

    public static let hasDKIMVerifier = pythonHas(["dkim", "nacl"])

    /// Verifies every DKIM signature of `message` with dkimpy, serving `records`
    /// (`selector._domainkey.domain` → TXT value) as DNS. Returns the results, in order,
    /// or nil when dkimpy is not available.
    public static func verifyDKIM(_ message: [UInt8], records: [String: String]) -> [Bool]? {
        guard hasDKIMVerifier else { return nil }
        let script = """
            import sys, json, dkim
            records = json.loads(sys.argv[1])
            def dns(name, timeout=5):
                key = name.decode() if isinstance(name, bytes) else name
                value = records.get(key.rstrip('.'))
                return value.encode() if value else None
            message = sys.stdin.buffer.read()
            verifier = dkim.DKIM(message)
            count = len([l for l in message.split(b"\\r\\n\\r\\n", 1)[0].split(b"\\r\\n") if l.lower().startswith(b"dkim-signature:")])
            results = []
            for index in range(count):
                try:
                    results.append(bool(verifier.verify(idx=index, dnsfunc=dns)))
                except Exception as error:
                    sys.stderr.write(str(error) + "\\n")
                    results.append(False)
            print(json.dumps(results))
            """
        let json = String(decoding: try! JSONSerialization.data(withJSONObject: records), as: UTF8.self)
        guard let result = try? run(["-c", script, json], input: message), result.status == 0 else { return nil }
        return (try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8))) as? [Bool]
    }

    /// Parses `message` with Python's `email` package (policy `default`) and returns the
    /// defects it found in every part (empty: a clean message), or nil without Python.
    public static func mimeDefects(_ message: [UInt8]) -> [String]? {
        guard pythonHas(["email"]) else { return nil }
        let script = """
            import sys, json, email, email.policy
            message = email.message_from_bytes(sys.stdin.buffer.read(), policy=email.policy.default)
            defects = []
            for part in message.walk():
                defects += [type(d).__name__ for d in part.defects]
                for name, value in part.items():
                    defects += [type(d).__name__ + " in " + name for d in getattr(value, 'defects', [])]
                if not part.is_multipart():
                    part.get_content()
            print(json.dumps(defects))
            """
        guard let result = try? run(["-c", script], input: message), result.status == 0 else { return nil }
        return (try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8))) as? [String]
    }

    struct Output {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static func run(_ arguments: [String], input: [UInt8]) throws -> Output {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3"] + arguments
        let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        let writer = Thread {
            stdin.fileHandleForWriting.write(Data(input))
            try? stdin.fileHandleForWriting.close()
        }
        writer.start()
        let out = stdout.fileHandleForReading.readDataToEndOfFile()
        let err = stderr.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Output(status: process.terminationStatus, stdout: String(decoding: out, as: UTF8.self), stderr: String(decoding: err, as: UTF8.self))
    }
}
