import Foundation
import Hummingbird
import Glibc
import KilnCore
@testable import KilnServe
import KilnSubmission
import KilnTesting
import Logging
import ServiceLifecycle
import Synchronization
import Testing

/// The HTTP injection API over real HTTP on loopback, against a fake backend.
@Suite struct InjectionEndpointTests {
    static let authorization = "Basic " + Data("api:s3cret".utf8).base64EncodedString()

    // MARK: POST /v1/messages

    @Test func aMessageIsDecodedAndAnsweredWithItsAcceptedAndRejectedRecipients() async throws {
        let backend = FakeSubmissionBackend()
        try await Self.withServer(backend) { port in
            let body = """
                {"from": "news@example.com", "fromName": "News", "configurationSet": "news", "transactional": true,
                 "subject": "Hello {{name}}", "text": "Hi {{name}}", "html": "<p>Hi</p>", "headers": {"X-Campaign": "spring"},
                 "tags": ["spring", "promo"],
                 "recipients": [
                   {"email": "ann@example.net", "name": "Ann", "substitutions": {"name": "Ann", "count": 1.50, "vip": true}, "metadata": {"customer": 42}},
                   {"email": "bob@rejected.example"}
                 ]}
                """
            let answer = try await Self.post(port, body)
            #expect(answer.status == 200)
            #expect(answer.header("Cache-Control") == "no-store")
            #expect(answer.header("Content-Type") == "application/json")
            let acceptance = try JSONDecoder().decode(APIAcceptance.self, from: Data(answer.body.utf8))
            #expect(acceptance == APIAcceptance(accepted: 1, messages: [.init(email: "ann@example.net", messageId: "1")],
                                                rejected: [.init(email: "bob@rejected.example", reason: "suppressed")]))
            let message = try #require(backend.submitted.last)
            #expect(message.from == "news@example.com")
            #expect(message.fromName == "News")
            #expect(message.configurationSet == "news")
            #expect(message.transactional)
            #expect(message.content == .template(subject: "Hello {{name}}", text: "Hi {{name}}", html: "<p>Hi</p>"))
            #expect(message.headers == ["X-Campaign": "spring"])
            #expect(message.tags == ["spring", "promo"])
            // Numbers and booleans are taken as their JSON text.
            #expect(message.recipients[0] == APIMessage.Recipient(email: "ann@example.net", name: "Ann",
                                                                  substitutions: ["name": "Ann", "count": "1.50", "vip": "true"],
                                                                  metadata: ["customer": "42"]))
            #expect(message.recipients[1] == APIMessage.Recipient(email: "bob@rejected.example"))
            #expect(backend.peers.last == "127.0.0.1")
            #expect(backend.principals.last == Principal(tenant: "acme", credential: "api"))
        }
    }

    @Test func aRawMessageIsBase64DecodedAndNeedsNoFrom() async throws {
        let backend = FakeSubmissionBackend()
        let raw = "From: news@example.com\r\nSubject: Hi\r\n\r\nHello\r\n"
        try await Self.withServer(backend) { port in
            let answer = try await Self.post(port, #"{"raw": "\#(Data(raw.utf8).base64EncodedString())", "recipients": [{"email": "ann@example.net"}]}"#)
            #expect(answer.status == 200)
            let message = try #require(backend.submitted.last)
            #expect(message.content == .raw(Array(raw.utf8)))
            #expect(message.from == nil)
        }
    }

    @Test func withoutOrWithWrongCredentialsTheAnswerIs401WithAChallenge() async throws {
        let backend = FakeSubmissionBackend()
        try await Self.withServer(backend) { port in
            let body = #"{"from": "a@example.com", "subject": "s", "text": "t", "recipients": [{"email": "b@example.net"}]}"#
            let cases: [(authorization: String?, code: String)] = [
                (nil, "authentication_required"),
                ("Bearer abc", "authentication_required"),
                ("Basic !!!not-base64", "authentication_required"),
                ("Basic " + Data("no-colon".utf8).base64EncodedString(), "authentication_required"),
                ("Basic " + Data("api:wrong".utf8).base64EncodedString(), "bad_credentials"),
            ]
            for (authorization, code) in cases {
                let answer = try await Self.post(port, body, authorization: authorization)
                #expect(answer.status == 401, "\(authorization ?? "none")")
                #expect(answer.header("WWW-Authenticate") == #"Basic realm="kiln""#)
                #expect(answer.header("Cache-Control") == "no-store")
                let error = try Self.error(answer)
                #expect(error.code == code)
                #expect(!answer.body.contains("wrong"), "the secret is never echoed")
            }
            let status = try await Self.request(port, "GET", "/v1/messages/1")
            #expect(status.status == 401)
            #expect(status.header("WWW-Authenticate") == #"Basic realm="kiln""#)
            #expect(backend.submitted.isEmpty)
        }
    }

    @Test(arguments: [
        // A recipient's address of the wrong type.
        (#"{"from": "a@example.com", "subject": "s", "text": "t", "recipients": [{"email": "b@example.net"}, {"email": 7}]}"#,
         "recipients[1].email"),
        // A substitution that is an object.
        (#"{"from": "a@example.com", "subject": "s", "text": "t", "recipients": [{"email": "b@example.net"}, {"email": "c@example.net", "substitutions": {"x": {"y": 1}}}]}"#,
         "recipients[1].substitutions.x"),
        (#"{"from": "a@example.com", "subject": "s", "text": "t", "recipients": [{"email": "b@example.net", "metadata": {"a.b": [1]}}]}"#,
         #"recipients[0].metadata["a.b"]"#),
        // An unknown field, at the top and in a recipient.
        (#"{"from": "a@example.com", "subject": "s", "text": "t", "cc": "x@example.net", "recipients": [{"email": "b@example.net"}]}"#, "cc"),
        (#"{"from": "a@example.com", "subject": "s", "text": "t", "recipients": [{"email": "b@example.net", "mail": "x"}]}"#, "recipients[0].mail"),
        // Invalid base64, and raw beside a subject.
        (#"{"raw": "not base64!", "recipients": [{"email": "b@example.net"}]}"#, "raw"),
        (#"{"raw": "QUJD", "subject": "s", "recipients": [{"email": "b@example.net"}]}"#, "subject"),
        // Missing fields.
        (#"{"from": "a@example.com", "subject": "s", "text": "t"}"#, "recipients"),
        (#"{"from": "a@example.com", "subject": "s", "text": "t", "recipients": [{"name": "B"}]}"#, "recipients[0].email"),
        (#"{"subject": "s", "text": "t", "recipients": [{"email": "b@example.net"}]}"#, "from"),
        (#"{"from": "a@example.com", "subject": "s", "recipients": [{"email": "b@example.net"}]}"#, "text"),
        (#"{"from": "a@example.com", "subject": "s", "text": "t", "recipients": []}"#, "recipients"),
        // Not an address, a header injection, null.
        (#"{"from": "a.example.com", "subject": "s", "text": "t", "recipients": [{"email": "b@example.net"}]}"#, "from"),
        (#"{"from": "a@example.com", "subject": "s\r\nBcc: x@example.net", "text": "t", "recipients": [{"email": "b@example.net"}]}"#, "subject"),
        (#"{"from": "a@example.com", "subject": "s", "text": "t", "headers": {"X-A": "1\nBcc: x"}, "recipients": [{"email": "b@example.net"}]}"#, "headers.X-A"),
        (#"{"from": "a@example.com", "subject": "s", "text": "t", "headers": {"Bad Name": "1"}, "recipients": [{"email": "b@example.net"}]}"#, #"headers["Bad Name"]"#),
        (#"{"from": "a@example.com", "subject": null, "text": "t", "recipients": [{"email": "b@example.net"}]}"#, "subject"),
        (#"{"from": "a@example.com", "subject": "s", "text": "t", "tags": ["ok", ""], "recipients": [{"email": "b@example.net"}]}"#, "tags[1]"),
        (#"{"from": "a@example.com", "subject": "s", "text": "t", "transactional": "yes", "recipients": [{"email": "b@example.net"}]}"#, "transactional"),
    ])
    func aMalformedBodyIs400NamingItsPath(body: String, path: String) async throws {
        let backend = FakeSubmissionBackend()
        try await Self.withServer(backend) { port in
            let answer = try await Self.post(port, body)
            #expect(answer.status == 400)
            #expect(answer.header("Cache-Control") == "no-store")
            let error = try Self.error(answer)
            #expect(error.code == "invalid_request")
            #expect(error.path == path, "\(error.message)")
            #expect(backend.submitted.isEmpty)
        }
    }

    @Test(arguments: ["", "not json", "[1, 2]", #"{"recipients": [}"#, #"{"a": 1, "a": 2}"#, "{\"from\": \"\u{7}\"}",
                      String(repeating: "[", count: 10_000)])
    func aBodyThatIsNotAJSONObjectIs400WithoutAPath(body: String) async throws {
        try await Self.withServer(FakeSubmissionBackend()) { port in
            let answer = try await Self.post(port, body)
            #expect(answer.status == 400)
            let error = try Self.error(answer)
            #expect(error.code == "invalid_request")
            #expect(error.path == nil)
        }
    }

    @Test func overTheRecipientOrSizeLimitIs413AndOtherMediaTypes415() async throws {
        let backend = FakeSubmissionBackend()
        try await Self.withServer(backend, maxBodyBytes: 200_000) { port in
            let recipients = (0..<1001).map { #"{"email": "r\#($0)@example.net"}"# }.joined(separator: ",")
            let many = try await Self.post(port, #"{"from": "a@example.com", "subject": "s", "text": "t", "recipients": [\#(recipients)]}"#)
            #expect(many.status == 413)
            #expect(try Self.error(many).code == "too_many_recipients")

            let big = try await Self.post(port, #"{"from": "a@example.com", "subject": "s", "text": "\#(String(repeating: "x", count: 200_001))", "recipients": [{"email": "b@example.net"}]}"#)
            #expect(big.status == 413)
            #expect(try Self.error(big).code == "too_big")

            let form = try await Self.request(port, "POST", "/v1/messages", headers: [("Authorization", Self.authorization), ("Content-Type", "text/plain")], body: "{}")
            #expect(form.status == 415)
            #expect(try Self.error(form).code == "unsupported_media_type")
            #expect(backend.submitted.isEmpty)
        }
    }

    @Test func refusalsKeepTheirStatusCodeAndRetryAfter() async throws {
        let backend = FakeSubmissionBackend()
        try await Self.withServer(backend) { port in
            let quota = try await Self.post(port, #"{"from": "quota@example.com", "subject": "s", "text": "t", "recipients": [{"email": "b@example.net"}]}"#)
            #expect(quota.status == 429)
            #expect(quota.header("Retry-After") == "60")
            #expect(try Self.error(quota).code == "over_quota")

            let sender = try await Self.post(port, #"{"from": "ceo@other.example", "subject": "s", "text": "t", "recipients": [{"email": "b@example.net"}]}"#)
            #expect(sender.status == 403)
            #expect(sender.header("Retry-After") == nil)
            #expect(try Self.error(sender).code == "forbidden_sender")

            let down = try await Self.post(port, #"{"from": "down@example.com", "subject": "s", "text": "t", "recipients": [{"email": "b@example.net"}]}"#)
            #expect(down.status == 503)
            #expect(down.header("Retry-After") == "5")
            #expect(try Self.error(down).code == "unavailable")

            let locked = try await Self.post(port, #"{"from": "a@example.com", "subject": "s", "text": "t", "recipients": [{"email": "b@example.net"}]}"#,
                                             authorization: "Basic " + Data("locked:x".utf8).base64EncodedString())
            #expect(locked.status == 429)
            #expect(locked.header("Retry-After") == "30")
            #expect(try Self.error(locked).code == "locked_out")
        }
    }

    // MARK: GET /v1/messages/{id}, the document, other methods

    @Test func aMessagesStatusIsItsTenantsOnly() async throws {
        let backend = FakeSubmissionBackend()
        try await Self.withServer(backend) { port in
            let posted = try await Self.post(port, #"{"from": "a@example.com", "subject": "s", "text": "t", "recipients": [{"email": "b@example.net", "metadata": {"k": "v"}}]}"#)
            let id = try JSONDecoder().decode(APIAcceptance.self, from: Data(posted.body.utf8)).messages[0].messageId
            let found = try await Self.request(port, "GET", "/v1/messages/\(id)", headers: [("Authorization", Self.authorization)])
            #expect(found.status == 200)
            #expect(found.header("Cache-Control") == "no-store")
            let status = try JSONDecoder().decode(APIMessageStatus.self, from: Data(found.body.utf8))
            #expect(status.messageId == id)
            #expect(status.metadata == ["k": "v"])
            // The id as a router hands it over percent-encoded.
            let encoded = id.utf8.map { "%" + String($0, radix: 16) }.joined()
            #expect(try await Self.request(port, "GET", "/v1/messages/\(encoded)", headers: [("Authorization", Self.authorization)]).status == 200)

            let other = "Basic " + Data("other:s3cret".utf8).base64EncodedString()
            for (path, authorization) in [("/v1/messages/\(id)", other), ("/v1/messages/999", Self.authorization),
                                          ("/v1/messages/abc", Self.authorization), ("/v1/messages/99999999999999999999", Self.authorization)] {
                let answer = try await Self.request(port, "GET", path, headers: [("Authorization", authorization)])
                #expect(answer.status == 404, "\(path)")
                #expect(try Self.error(answer).code == "not_found")
            }
        }
    }

    @Test func theDocumentIsServedAsWrittenInDocs() async throws {
        let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("docs/openapi.json")
        let written = try String(contentsOf: file, encoding: .utf8)
        #expect(OpenAPIDocument.text == written, "docs/openapi.json and Sources/KilnServe/OpenAPIDocument.swift differ")
        try await Self.withServer(FakeSubmissionBackend()) { port in
            let answer = try await Self.request(port, "GET", "/v1/openapi.json")
            #expect(answer.status == 200)
            #expect(answer.header("Content-Type") == "application/json")
            #expect(answer.body == written)
            let document = try #require(try JSONSerialization.jsonObject(with: Data(written.utf8)) as? [String: Any])
            #expect(document["openapi"] as? String == "3.1.0")
        }
    }

    @Test func otherMethodsAre405WithAllowAndOtherPaths404() async throws {
        try await Self.withServer(FakeSubmissionBackend()) { port in
            for (method, path, allow) in [("GET", "/v1/messages", "POST"), ("PUT", "/v1/messages", "POST"), ("DELETE", "/v1/messages/1", "GET, HEAD"),
                                          ("POST", "/v1/openapi.json", "GET, HEAD")] {
                let answer = try await Self.request(port, method, path)
                #expect(answer.status == 405, "\(method) \(path)")
                #expect(answer.header("Allow") == allow)
            }
            for path in ["/v1", "/v1/nothing", "/v1/nothing/deeper", "/v1/messages/1/events", "/v1/openapi.json/x"] {
                let answer = try await Self.request(port, "GET", path)
                #expect(answer.status == 404, "\(path)")
                #expect(answer.header("Content-Type") == "application/json", "\(path)")
                #expect(try Self.error(answer).code == "not_found")
            }
            let head = try await Self.request(port, "HEAD", "/v1/openapi.json")
            #expect(head.status == 200)
            #expect(head.body.isEmpty)
        }
    }

    @Test func curlPostsAMessage() async throws {
        let backend = FakeSubmissionBackend()
        try await Self.withServer(backend) { port in
            let body = #"{"from": "a@example.com", "subject": "s", "text": "t", "recipients": [{"email": "b@example.net"}]}"#
            let curl = try await ChildProcess.run("/usr/bin/env", [
                "curl", "--silent", "--show-error", "--user", "api:s3cret", "--json", body, "--write-out", "\n%{http_code}",
                "http://127.0.0.1:\(port)/v1/messages",
            ])
            #expect(curl.status == 0, "\(curl.stderr)")
            let lines = curl.stdout.split(separator: "\n")
            #expect(lines.last == "200")
            let acceptance = try JSONDecoder().decode(APIAcceptance.self, from: Data(try #require(lines.first).utf8))
            #expect(acceptance.accepted == 1)
            #expect(backend.submitted.count == 1)
        }
    }

    // MARK: schemathesis

    /// scripts/api-fuzz.sh against the endpoint with the fake backend; set KILN_RUN_SCHEMATHESIS=1
    /// to run it (it installs schemathesis when missing and takes a minute or two).
    @Test(.enabled(if: ProcessInfo.processInfo.environment["KILN_RUN_SCHEMATHESIS"] == "1"), .timeLimit(.minutes(10)))
    func schemathesisFindsNothing() async throws {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts/api-fuzz.sh").path
        try await Self.withServer(FakeSubmissionBackend()) { port in
            let run = try await ChildProcess.run("/bin/bash", [script, "http://127.0.0.1:\(port)"],
                                                 environment: ChildProcess.environment(adding: ["KILN_API_USER": "api", "KILN_API_SECRET": "s3cret"]))
            print(run.stdout.suffix(4000))
            #expect(run.status == 0, "\(run.stderr.suffix(4000))")
        }
    }

    // MARK: parsing, without a server

    @Test func base64IsPaddedRFC4648Only() {
        #expect(Base64.decode("QUJD") == Array("ABC".utf8))
        #expect(Base64.decode("QUI=") == Array("AB".utf8))
        #expect(Base64.decode("QQ==") == Array("A".utf8))
        #expect(Base64.decode("") == [])
        for bad in ["QUI", "QQ=", "Q===", "====", "QU=I", "QUJD\n", "QU-_", "=QUJ"] {
            #expect(Base64.decode(bad) == nil, "\(bad)")
        }
    }

    @Test func jsonNumbersKeepTheirTextAndStringsTheirEscapes() throws {
        let value = try JSONParser.parse(Array(#" {"n": [0, -1.50, 2e10], "s": "a\u00e9\ud83d\ude00\n\/"} "#.utf8))
        #expect(value == .object([
            ("n", .array([.number("0"), .number("-1.50"), .number("2e10")])),
            ("s", .string("aé😀\n/")),
        ]))
        for bad in ["01", "1.", "-", "1e", #""\ud800""#, #""\x""#, "tru", "[1,]", "{\"a\" 1}", "\"\u{1}\""] {
            #expect(throws: JSONSyntaxError.self, "\(bad)") { try JSONParser.parse(Array(bad.utf8)) }
        }
        #expect(throws: JSONSyntaxError.self) { try JSONParser.parse([0x22, 0xFF, 0x22]) }
    }
}

// MARK: - Harness

extension InjectionEndpointTests {
    /// Runs `body` with the endpoint listening on a free port of 127.0.0.1.
    static func withServer(_ backend: FakeSubmissionBackend, maxBodyBytes: Int = 32 * 1024 * 1024,
                           _ body: @escaping @Sendable (Int) async throws -> Void) async throws {
        let router = Hummingbird.Router(context: PeerRequestContext.self)
        InjectionEndpoint(backend: backend, maxBodyBytes: maxBodyBytes).addRoutes(to: router)
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              onServerRunning: { channel in continuation.yield(channel.localAddress?.port ?? 0) }, logger: Logger.test())
        let services = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [], logger: Logger.test()))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await services.run() }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            var failure: (any Error)?
            do {
                try await body(port)
            } catch {
                failure = error
            }
            await services.triggerGracefulShutdown()
            try await group.waitForAll()
            if let failure { throw failure }
        }
    }

    struct Answer: Sendable {
        var status: Int
        var headers: [(name: String, value: String)]
        var body: String

        func header(_ name: String) -> String? {
            headers.first { $0.name.lowercased() == name.lowercased() }?.value
        }
    }

    struct ErrorDetail: Decodable {
        var code: String
        var message: String
        var path: String?
    }

    /// The `error` of an error body, which must have no other member.
    static func error(_ answer: Answer) throws -> ErrorDetail {
        #expect(answer.header("Content-Type") == "application/json")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any])
        #expect(Array(object.keys) == ["error"])
        struct Body: Decodable { var error: ErrorDetail }
        return try JSONDecoder().decode(Body.self, from: Data(answer.body.utf8)).error
    }

    static func post(_ port: Int, _ body: String, authorization: String? = InjectionEndpointTests.authorization) async throws -> Answer {
        var headers = [("Content-Type", "application/json")]
        if let authorization { headers.append(("Authorization", authorization)) }
        return try await request(port, "POST", "/v1/messages", headers: headers, body: body)
    }

    /// One request on its own connection, on a thread of its own (see `HTTP.request`).
    static func request(_ port: Int, _ method: String, _ path: String, headers: [(String, String)] = [], body: String? = nil) async throws -> Answer {
        try await onOwnThread {
            let fd = try HTTP.connection(port: port)
            defer { close(fd) }
            var text = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
            for (name, value) in headers { text += "\(name): \(value)\r\n" }
            if let body { text += "Content-Length: \(body.utf8.count)\r\n" }
            text += "\r\n" + (body ?? "")
            let bytes = Array(text.utf8)
            var sent = 0
            while sent < bytes.count {
                let n = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                // The server may answer (413) and close before it has read the whole body.
                guard n > 0 else { break }
                sent += n
            }
            var response: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while true {
                let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n <= 0 { break }
                response += buffer[0..<n]
            }
            let whole = String(decoding: response, as: UTF8.self)
            guard let split = whole.range(of: "\r\n\r\n") else { throw HTTP.Failure(what: "no answer to \(method) \(path)") }
            let head = whole[..<split.lowerBound].components(separatedBy: "\r\n")
            let status = head.first?.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
            let fields = head.dropFirst().compactMap { line -> (name: String, value: String)? in
                guard let colon = line.firstIndex(of: ":") else { return nil }
                return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
            }
            return Answer(status: status, headers: fields, body: String(whole[split.upperBound...]))
        }
    }
}

/// A backend with two tenants' credentials and canned refusals:
///
/// | input | answer |
/// |---|---|
/// | `api:s3cret` | tenant `acme`; `other:s3cret` tenant `other` |
/// | name `locked` | locked out, retry after 30 s |
/// | any other credential | bad credentials |
/// | from `quota@example.com` | over quota, retry after 60 s |
/// | from `down@example.com` | unavailable |
/// | from `…@other.example` | forbidden sender |
/// | a recipient `…@rejected.example` | rejected, `suppressed` |
///
/// Accepted messages get ids 1, 2, 3... and a status their tenant can read.
final class FakeSubmissionBackend: SubmissionBackend {
    struct State {
        var submitted: [APIMessage] = []
        var principals: [Principal] = []
        var peers: [String] = []
        var statuses: [MessageID: APIMessageStatus] = [:]
        var nextID: Int64 = 1
    }
    let state = Mutex(State())

    var submitted: [APIMessage] { state.withLock { $0.submitted } }
    var principals: [Principal] { state.withLock { $0.principals } }
    var peers: [String] { state.withLock { $0.peers } }

    func trustedPrincipal(peer: String) -> Principal? { nil }

    func authenticate(name: String, secret: String, peer: String) async -> Result<Principal, SubmissionRefusal> {
        state.withLock { $0.peers.append(peer) }
        switch (name, secret) {
        case ("api", "s3cret"): return .success(Principal(tenant: "acme", credential: "api"))
        case ("other", "s3cret"): return .success(Principal(tenant: "other", credential: "other"))
        case ("locked", _): return .failure(SubmissionRefusal(.lockedOut(retryAfter: 30), "Too many failed logins; try again later."))
        default: return .failure(SubmissionRefusal(.badCredentials, "Wrong name or secret."))
        }
    }

    func checkEnvelopeSender(_ address: String, principal: Principal) -> SubmissionRefusal? { nil }

    func submit(raw: [UInt8], mailFrom: String, recipients: [String], principal: Principal) async -> Result<[MessageID], SubmissionRefusal> {
        .failure(SubmissionRefusal(.unavailable, "Not in this fake."))
    }

    func submit(message: APIMessage, principal: Principal) async -> Result<APIAcceptance, SubmissionRefusal> {
        switch message.from {
        case "quota@example.com": return .failure(SubmissionRefusal(.overQuota(retryAfter: 60), "The tenant is over its hourly quota."))
        case "down@example.com": return .failure(SubmissionRefusal(.unavailable, "The store cannot take it now."))
        case let from? where from.hasSuffix("@other.example"): return .failure(SubmissionRefusal(.forbiddenSender, "This sender is not yours."))
        default: break
        }
        return state.withLock { state in
            state.submitted.append(message)
            state.principals.append(principal)
            var acceptance = APIAcceptance(accepted: 0, messages: [], rejected: [])
            for recipient in message.recipients {
                if recipient.email.hasSuffix("@rejected.example") {
                    acceptance.rejected.append(.init(email: recipient.email, reason: "suppressed"))
                    continue
                }
                let id = MessageID(state.nextID)
                state.nextID += 1
                state.statuses[id] = APIMessageStatus(messageId: id.description, email: recipient.email, tenant: principal.tenant,
                                                      state: "queued", attempts: 0, metadata: recipient.metadata,
                                                      events: [.init(time: "2025-01-01T00:00:00Z", kind: "accepted")])
                acceptance.accepted += 1
                acceptance.messages.append(.init(email: recipient.email, messageId: id.description))
            }
            return .success(acceptance)
        }
    }

    func status(of id: MessageID, principal: Principal) async -> Result<APIMessageStatus?, SubmissionRefusal> {
        .success(state.withLock { $0.statuses[id] }.flatMap { $0.tenant == principal.tenant ? $0 : nil })
    }
}
