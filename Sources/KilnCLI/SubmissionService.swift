import Foundation
import Kiln
import KilnCore
import KilnSubmission
import Logging
import ServiceLifecycle

/// The SMTP submission listener of `kiln run` (`submission.smtp`), as a service of the
/// run's group: it listens until a graceful shutdown, then lets open sessions finish
/// within their grace period.
struct SubmissionService: Service {
    let settings: SMTPSubmissionSettings
    let gate: SubmissionGate
    let logger: Logger

    /// The listener's settings from the configuration (TLS files relative to it), or nil
    /// when no `submission.smtp` is configured.
    static func settings(for engine: SendEngine, baseDirectory: String) throws -> SMTPSubmissionSettings? {
        guard let smtp = engine.configuration.submission?.smtp else { return nil }
        let listeners = try smtp.listen.enumerated().map { index, text in
            guard let address = Configuration.listenAddress(text) else {
                throw KilnError(.invalidConfiguration, "'\(text)' is not HOST:PORT", location: "submission.smtp.listen[\(index)]")
            }
            return SMTPSubmissionSettings.Listener(host: address.host, port: address.port)
        }
        func resolved(_ path: String) -> String { path.hasPrefix("/") ? path : URL(fileURLWithPath: baseDirectory).appendingPathComponent(path).path }
        var settings = SMTPSubmissionSettings(
            listeners: listeners,
            tls: smtp.tls.map { .pemFiles(certificateChain: resolved($0.certificateFile), privateKey: resolved($0.privateKeyFile)) },
            hostname: smtp.hostname ?? ProcessInfo.processInfo.hostName)
        if let value = smtp.maxMessageBytes { settings.maxMessageBytes = value }
        if let value = smtp.maxRecipients { settings.maxRecipients = value }
        if let value = smtp.maxConnections { settings.maxConnections = value }
        if let value = smtp.idleTimeoutSeconds { settings.commandTimeout = .seconds(value) }
        if let problem = settings.problems().first { throw problem }
        return settings
    }

    func run() async throws {
        let server = try await SMTPSubmissionServer.start(settings: settings, backend: gate, logger: logger)
        logger.notice("SMTP submission listening", metadata: [
            "addresses": "\(server.boundListeners.map { "\($0.host):\($0.port)" }.joined(separator: " "))",
            "starttls": "\(settings.tls != nil)",
        ])
        try? await gracefulShutdown()
        await server.stop()
    }
}
