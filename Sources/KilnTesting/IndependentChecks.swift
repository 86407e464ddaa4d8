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

    /// Runs Python with `arguments` and `input` on standard input, and waits.
    static func run(_ arguments: [String], input: [UInt8]) throws -> ChildProcess {
        try ChildProcess.runBlocking("/usr/bin/env", ["python3"] + arguments, stdin: input, directory: nil, environment: nil)
    }
}
