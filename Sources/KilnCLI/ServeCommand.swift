import ArgumentParser
import Foundation
import Hummingbird
import Kiln
import KilnServe

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the one-click unsubscribe endpoint (RFC 8058) at the path of the configured unsubscribe URL.")
    @OptionGroup var options: ConfigOption
    @Option(help: "Address and port to listen on.") var listen = "127.0.0.1:8080"
    @Option(name: .customLong("header-timeout"), help: "Seconds a connection may take to send a request head, or stay idle (default 10).")
    var headerTimeout: Double = 10
    @Option(name: .customLong("max-connections"), help: "Open connections at most (default 4096; lowered to fit the open-file limit).")
    var maxConnections = 4096

    func validate() throws {
        if !(headerTimeout > 0) { throw ValidationError("--header-timeout must be more than 0") }
        if maxConnections < 1 { throw ValidationError("--max-connections must be at least 1") }
    }

    func run() async throws {
        let address = try ListenAddress(listen)
        let host = address.host
        let port = address.port
        let engine = try openEngine(options, secrets: .unsubscribe)
        let router = Hummingbird.Router()
        // The paths of the configured unsubscribe URLs (default /u).
        let paths = unsubscribePaths(engine)
        for path in paths.sorted() { UnsubscribeEndpoint(engine: engine).addRoutes(to: router, path: RouterPath(path)) }
        let limits = UnsubscribeServerLimits(headerTimeout: .seconds(headerTimeout), maxConnections: maxConnections).fittingOpenFileLimit()
        let logger = makeLogger()
        let app = Application(router: router, server: limits.server, configuration: limits.configuration(address: .hostname(host, port: port), logger: logger),
                              logger: logger)
        print("serving unsubscribes on http://\(host):\(port)\(paths.sorted().joined(separator: ", ")) (at most \(limits.maxConnections) connections, \(headerTimeout) s header timeout)")
        try await app.runService()
    }
}
