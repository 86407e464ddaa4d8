import ArgumentParser
import Foundation
import Hummingbird
import Kiln
import KilnServe
import KilnSubmission
import Logging

/// `HOST:PORT` of `--listen`.
struct ListenAddress {
    var host: String
    var port: Int

    init(_ text: String) throws {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port),
              !text[..<colon].isEmpty else {
            throw ValidationError("--listen: expected HOST:PORT, e.g. 127.0.0.1:8080")
        }
        host = String(text[..<colon])
        self.port = port
    }
}

/// The paths of the configured unsubscribe URLs (`/u` when none names one).
func unsubscribePaths(_ engine: SendEngine) -> [String] {
    let paths = Set(engine.configuration.configurationSets.compactMap { $0.unsubscribe?.url.flatMap { URL(string: $0)?.path } }.filter { !$0.isEmpty })
    return paths.isEmpty ? ["/u"] : paths.sorted()
}

/// The HTTP server of `kiln run --listen`: the injection API (/v1), /metrics, /healthz,
/// /readyz, and the one-click unsubscribe routes when a configuration set has an
/// unsubscribe section.
func operationsApplication(engine: SendEngine, gate: SubmissionGate, listen: ListenAddress, maxConnections: Int, logger: Logger,
                           metricsText: @escaping @Sendable () -> [UInt8]) throws -> some ApplicationProtocol {
    let router = Hummingbird.Router(context: PeerRequestContext.self)
    OperationsEndpoint(engine: engine, metricsText: metricsText).addRoutes(to: router)
    InjectionEndpoint(backend: gate, maxRecipients: gate.maxRecipientsPerCall).addRoutes(to: router)
    var routes = ["/v1/messages", "/v1/openapi.json", "/metrics", "/healthz", "/readyz"]
    if engine.configuration.configurationSets.contains(where: { $0.unsubscribe != nil }) {
        try engine.checkSecrets(for: .unsubscribe)
        for path in unsubscribePaths(engine) {
            UnsubscribeEndpoint(engine: engine).addRoutes(to: router, path: RouterPath(path))
            routes.append(path)
        }
    }
    let limits = UnsubscribeServerLimits(maxConnections: maxConnections)
    logger.notice("serving", metadata: ["address": "http://\(listen.host):\(listen.port)", "routes": "\(routes.joined(separator: " "))"])
    return Application(router: router, server: limits.server,
                       configuration: limits.configuration(address: .hostname(listen.host, port: listen.port), logger: logger), logger: logger)
}
