import Foundation
import KilnTesting

/// A real SMTP client for the listener's tests: Python 3's smtplib (or a raw socket, for
/// what smtplib will not do: pipelining in one write, clear text after STARTTLS, idling),
/// run as a child process. The test describes the steps; the client prints one result per
/// step as JSON.
struct PythonSMTPClient: Encodable {
    enum Driver: String, Encodable {
        /// smtplib.SMTP (or SMTP_SSL with `implicitTLS`).
        case smtplib
        /// A plain socket: `write`, `read`, `tls`, `readToEnd`, `probe`.
        case raw
    }

    struct Step: Encodable {
        var op: String
        var line: String?
        var user: String?
        var password: String?
        var from: String?
        var to: [String]?
        var message: String?
        var count: Int?
        var options: [String]?
        var replies: Int?
        var timeout: Double?

        static let ehlo = Step(op: "ehlo")
        static let starttls = Step(op: "starttls")
        static let quit = Step(op: "quit")
        static func login(_ user: String, _ password: String) -> Step { Step(op: "login", user: user, password: password) }
        /// AUTH LOGIN (smtplib's `login` prefers PLAIN).
        static func authLogin(_ user: String, _ password: String) -> Step { Step(op: "auth_login", user: user, password: password) }
        /// Any command line, its reply.
        static func command(_ line: String) -> Step { Step(op: "command", line: line) }
        /// MAIL, RCPT for each recipient, DATA: one result per message with every code.
        static func send(from: String = "news@example.com", to: [String] = ["rcpt@example.net"], message: String = PythonSMTPClient.message,
                         count: Int = 1, options: [String] = []) -> Step {
            Step(op: "send", from: from, to: to, message: message, count: count, options: options)
        }
        static func write(_ data: String) -> Step { Step(op: "write", line: data) }
        static func read(replies: Int) -> Step { Step(op: "read", replies: replies) }
        static let tls = Step(op: "tls")
        static func readToEnd(timeout: Double) -> Step { Step(op: "read_to_end", timeout: timeout) }
        /// Opens a second connection and reads its first reply.
        static let probe = Step(op: "probe")
    }

    struct Result: Decodable, CustomStringConvertible {
        var op: String
        var code: Int?
        var text: String?
        var codes: [Int]?
        /// Seconds, for `readToEnd`.
        var elapsed: Double?
        var description: String { "\(op) \(code.map(String.init) ?? "") \(codes.map { "\($0)" } ?? "") \(text ?? "")" }
    }

    static let message = "From: news@example.com\r\nTo: rcpt@example.net\r\nSubject: hello\r\n\r\nHello.\r\n"

    var driver = Driver.smtplib
    var host = "127.0.0.1"
    var port: Int
    var cafile: String?
    var source: String?
    var implicitTLS = false
    var steps: [Step]

    /// Runs the client; one result per step (a `send` step: one per message).
    func run() async throws -> [Result] {
        let child = try await ChildProcess.run("/usr/bin/env", ["python3", "-c", Self.script], stdin: Array(try JSONEncoder().encode(self)))
        guard child.status == 0 else { throw ClientFailure(status: child.status, stderr: child.stderr) }
        return try child.stdout.split(separator: "\n").map { try JSONDecoder().decode(Result.self, from: Data($0.utf8)) }
    }

    struct ClientFailure: Error, CustomStringConvertible {
        var status: Int32
        var stderr: String
        var description: String { "python client exited \(status): \(stderr)" }
    }

    static let script = #"""
import base64, json, smtplib, socket, ssl, sys, time
spec = json.load(sys.stdin)

def emit(op, code=None, text=None, codes=None, elapsed=None):
    print(json.dumps({"op": op, "code": code, "text": text, "codes": codes, "elapsed": elapsed}), flush=True)

def context():
    if spec.get("cafile"):
        ctx = ssl.create_default_context(cafile=spec["cafile"])
        ctx.check_hostname = False  # the chain is verified; the certificate names localhost
        return ctx
    return ssl._create_unverified_context()

def text(value):
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)

def run_smtplib():
    kw = {"timeout": 60}  # a loaded 2-core machine running the whole suite can stall a session for seconds
    if spec.get("source"):
        kw["source_address"] = (spec["source"], 0)
    if spec.get("implicitTLS"):
        s = smtplib.SMTP_SSL(context=context(), **kw)
    else:
        s = smtplib.SMTP(**kw)
    s._host = spec["host"]  # what starttls names as server_hostname; set by the constructor only
    code, msg = s.connect(spec["host"], spec["port"])
    emit("connect", code, text(msg))
    for step in spec["steps"]:
        op = step["op"]
        try:
            if op == "ehlo":
                code, msg = s.ehlo("client.example")
            elif op == "starttls":
                code, msg = s.starttls(context=context())
            elif op == "login":
                code, msg = s.login(step["user"], step["password"])
            elif op == "auth_login":
                s.user, s.password = step["user"], step["password"]
                code, msg = s.auth("LOGIN", s.auth_login)
            elif op == "command":
                code, msg = s.docmd(step["line"])
            elif op == "quit":
                code, msg = s.docmd("QUIT")
                s.close()
            elif op == "send":
                for _ in range(step["count"]):
                    send(s, step)
                continue
            emit(op, code, text(msg))
        except smtplib.SMTPResponseException as e:
            emit(op, e.smtp_code, text(e.smtp_error))
        except smtplib.SMTPServerDisconnected as e:
            emit(op, -1, str(e))
            return

def send(s, step):
    codes = []
    try:
        code, msg = s.mail(step["from"], step["options"])
        codes.append(code)
        if code != 250:
            s.rset()
            return emit("send", code, text(msg), codes)
        for rcpt in step["to"]:
            code, msg = s.rcpt(rcpt)
            codes.append(code)
        code, msg = s.data(step["message"].encode("utf-8"))
        codes.append(code)
        emit("send", code, text(msg), codes)
    except smtplib.SMTPResponseException as e:
        codes.append(e.smtp_code)
        emit("send", e.smtp_code, text(e.smtp_error), codes)

def run_raw():
    source = (spec["source"], 0) if spec.get("source") else None
    sock = socket.create_connection((spec["host"], spec["port"]), timeout=60, source_address=source)
    buf = b""
    def read_reply():
        nonlocal buf
        lines = []
        while True:
            while b"\r\n" not in buf:
                chunk = sock.recv(65536)
                if not chunk:
                    raise EOFError("closed after %r" % lines)
                buf += chunk
            line, buf = buf.split(b"\r\n", 1)
            lines.append(text(line))
            if len(line) < 4 or line[3:4] == b" ":
                return lines
    for step in spec["steps"]:
        op = step["op"]
        if op == "write":
            sock.sendall(step["line"].encode("utf-8"))
        elif op == "read":
            for _ in range(step["replies"]):
                try:
                    lines = read_reply()
                except EOFError as e:
                    emit("read", -1, str(e))
                    return
                emit("read", int(lines[-1][:3]), "\n".join(lines))
        elif op == "tls":
            if buf:
                emit("tls", -1, "unread bytes before TLS: %r" % buf)
                return
            sock = context().wrap_socket(sock)
            emit("tls", 0, sock.version())
        elif op == "read_to_end":
            sock.settimeout(step["timeout"])
            start = time.monotonic()
            data = buf
            buf = b""
            try:
                while True:
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                code = 0
            except socket.timeout:
                code = -1
            emit("read_to_end", code, text(data), elapsed=time.monotonic() - start)
        elif op == "probe":
            other = socket.create_connection((spec["host"], spec["port"]), timeout=20)
            data = b""
            while not data.endswith(b"\r\n"):
                chunk = other.recv(65536)
                if not chunk:
                    break
                data += chunk
            other.close()
            emit("probe", int(data[:3]) if data[:3].isdigit() else -1, text(data).strip())

if spec["driver"] == "raw":
    run_raw()
else:
    run_smtplib()
"""#
}
