import Foundation
import KilnCore
import KilnSubmission
import KilnTesting
import Logging
import MetricsTestKit
import Synchronization

/// A `SubmissionBackend` for the listener's tests: one credential (`app` / `s3cret`,
/// tenant `default`), `127.0.0.1` trusted when `trustsLoopback`, senders `evil@…` and the
/// null sender forbidden, a peer refused with `forbiddenSource`, an over-quota mode; it
/// records every login and message and answers sequential ids.
final class FakeSubmissionBackend: SubmissionBackend {
    struct Submitted: Sendable {
        var raw: [UInt8]
        var mailFrom: String
        var recipients: [String]
        var principal: Principal
        var text: String { String(decoding: raw, as: UTF8.self) }
    }
    struct Login: Sendable, Equatable {
        var name: String
        var peer: String
    }
    struct State {
        var submitted: [Submitted] = []
        var logins: [Login] = []
        var nextID: Int64 = 1
        var submitsStarted = 0
    }

    let state = Mutex(State())
    let trustsLoopback: Bool
    let overQuota: Bool
    /// A peer whose logins are refused with `forbiddenSource` (the credential is bound elsewhere).
    let refusedSource: String?
    /// How long `submit` takes: the listener must not answer before it returns.
    let submitDelay: Duration

    init(trustsLoopback: Bool = false, overQuota: Bool = false, refusedSource: String? = nil, submitDelay: Duration = .zero) {
        self.trustsLoopback = trustsLoopback
        self.overQuota = overQuota
        self.refusedSource = refusedSource
        self.submitDelay = submitDelay
    }

    var submitted: [Submitted] { state.withLock { $0.submitted } }
    var logins: [Login] { state.withLock { $0.logins } }
    var submitsStarted: Int { state.withLock { $0.submitsStarted } }

    func trustedPrincipal(peer: String) -> Principal? {
        trustsLoopback && peer == "127.0.0.1" ? Principal(tenant: "default", credential: nil) : nil
    }

    func authenticate(name: String, secret: String, peer: String) async -> Result<Principal, SubmissionRefusal> {
        state.withLock { $0.logins.append(Login(name: name, peer: peer)) }
        guard name == "app", secret == "s3cret" else { return .failure(SubmissionRefusal(.badCredentials, "Authentication credentials invalid")) }
        if peer == refusedSource { return .failure(SubmissionRefusal(.forbiddenSource, "Not allowed from this address")) }
        return .success(Principal(tenant: "default", credential: "app"))
    }

    func checkEnvelopeSender(_ address: String, principal: Principal) -> SubmissionRefusal? {
        address.isEmpty || address.hasPrefix("evil@") ? SubmissionRefusal(.forbiddenSender, "Sender not allowed") : nil
    }

    func submit(raw: [UInt8], mailFrom: String, recipients: [String], principal: Principal) async -> Result<[MessageID], SubmissionRefusal> {
        state.withLock { $0.submitsStarted += 1 }
        if submitDelay > .zero { try? await Task.sleep(for: submitDelay) }
        if overQuota { return .failure(SubmissionRefusal(.overQuota(retryAfter: 60), "Over quota, try again later")) }
        return .success(state.withLock { state in
            state.submitted.append(Submitted(raw: raw, mailFrom: mailFrom, recipients: recipients, principal: principal))
            defer { state.nextID += Int64(recipients.count) }
            return recipients.indices.map { MessageID(state.nextID + Int64($0)) }
        })
    }

    func submit(message: APIMessage, principal: Principal) async -> Result<APIAcceptance, SubmissionRefusal> {
        .failure(SubmissionRefusal(.unavailable, "not in this fake"))
    }

    func status(of id: MessageID, principal: Principal) async -> Result<APIMessageStatus?, SubmissionRefusal> {
        .success(nil)
    }
}

/// A listener on 127.0.0.1, port 0, with a throwaway certificate (PEM files in a temporary
/// directory) and the CA file for the client.
struct ListenerFixture {
    let server: SMTPSubmissionServer
    let backend: FakeSubmissionBackend
    let metrics: TestMetrics
    let directory: URL
    var port: Int { server.ports[0] }
    var caFile: String { directory.appendingPathComponent("ca.pem").path }

    /// Runs `body` with a started listener, and stops it and removes the files whatever happens.
    static func with(backend: FakeSubmissionBackend = FakeSubmissionBackend(), tls: Bool = true, implicitTLS: Bool = false,
                     _ configure: (inout SMTPSubmissionSettings) -> Void = { _ in },
                     _ body: (ListenerFixture) async throws -> Void) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-submission-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let authority = try TestCertificateAuthority()
        let identity = try authority.issue(for: "localhost")
        let chain = directory.appendingPathComponent("chain.pem").path, key = directory.appendingPathComponent("key.pem").path
        try authority.certificatePEM.write(toFile: directory.appendingPathComponent("ca.pem").path, atomically: true, encoding: .utf8)
        try identity.certificatePEM.write(toFile: chain, atomically: true, encoding: .utf8)
        try identity.keyPEM.write(toFile: key, atomically: true, encoding: .utf8)

        var listeners = [SMTPSubmissionSettings.Listener(host: "127.0.0.1", port: 0)]
        if implicitTLS { listeners.append(.init(host: "127.0.0.1", port: 0, implicitTLS: true)) }
        var settings = SMTPSubmissionSettings(listeners: listeners, tls: tls ? .pemFiles(certificateChain: chain, privateKey: key) : nil,
                                              shutdownGracePeriod: .seconds(2), eventLoopThreads: 1)
        configure(&settings)
        let metrics = TestMetrics()
        let server = try await SMTPSubmissionServer.start(settings: settings, backend: backend, logger: .test("submission"), metrics: metrics)
        let fixture = ListenerFixture(server: server, backend: backend, metrics: metrics, directory: directory)
        do {
            try await body(fixture)
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }

    /// A smtplib client of this listener (the CA file for STARTTLS).
    func client(_ steps: [PythonSMTPClient.Step], source: String? = nil, implicitTLS: Bool = false) -> PythonSMTPClient {
        PythonSMTPClient(port: implicitTLS ? server.ports[1] : port, cafile: caFile, source: source, implicitTLS: implicitTLS, steps: steps)
    }

    /// A raw-socket client of this listener.
    func raw(_ steps: [PythonSMTPClient.Step]) -> PythonSMTPClient {
        PythonSMTPClient(driver: .raw, port: port, cafile: caFile, steps: steps)
    }

    /// `kiln_submission_messages_total` for `result` (accepted, refused); 0 when never counted.
    func messagesCounted(_ result: String) -> Int64 {
        (try? metrics.expectCounter("kiln_submission_messages_total", [("listener", "smtp"), ("result", result)]).totalValue) ?? 0
    }
}
