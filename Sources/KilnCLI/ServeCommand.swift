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

    func run() async throws {
        guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]), (1...65535).contains(port) else {
            throw ValidationError("--listen: expected HOST:PORT, e.g. 127.0.0.1:8080")
        }
        let host = String(listen[..<colon])
        let engine = try openEngine(options, secrets: .unsubscribe)
        let router = Hummingbird.Router()
        // The paths of the configured unsubscribe URLs (default /u).
        var paths = Set(engine.configuration.configurationSets.compactMap { $0.unsubscribe?.url.flatMap { URL(string: $0)?.path } }.filter { !$0.isEmpty })
        if paths.isEmpty { paths = ["/u"] }
        for path in paths.sorted() { UnsubscribeEndpoint(engine: engine).addRoutes(to: router, path: RouterPath(path)) }
        let app = Application(router: router, configuration: .init(address: .hostname(host, port: port)), logger: makeLogger())
        print("serving unsubscribes on http://\(host):\(port)\(paths.sorted().joined(separator: ", "))")
        try await app.runService()
    }
}
