import Foundation
import Hummingbird
import HummingbirdTesting
import Kiln
import KilnCore
import KilnMessage
import KilnServe
import Logging
import Testing

/// The RFC 8058 endpoint over real HTTP on loopback.
@Suite struct UnsubscribeEndpointTests {
    static let secret = "endpoint-test-secret-0123456789"

    func engine(in directory: String) throws -> SendEngine {
        let configuration = Configuration(
            store: .init(path: "kiln.sqlite"), senderId: "Test",
            identities: [.init(domain: "example.com", returnPathDomain: "bounce.example.com")],
            pools: [.init(name: "p", ips: ["127.0.0.2"], scaling: .fixed)],
            delivery: .init(mode: .routes, routes: ["*": "smtp://127.0.0.1:1"], heloName: "mta.example.com"),
            configurationSets: [
                .init(name: "news", pool: "p", unsubscribe: .init(url: "https://example.com/u", secretEnv: "KILN_UNSUB")),
                .init(name: "other", pool: "p"),
            ], defaultConfigurationSet: "news")
        return try SendEngine(configuration: configuration, baseDirectory: directory,
                              secrets: SecretSource(environment: ["KILN_UNSUB": Self.secret]), logger: Logger(label: "test"))
    }

    @Test func oneClickPostSuppressesAtOnceAndForgedTokensAreRefused() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-serve-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let engine = try engine(in: directory)
        let router = Router()
        UnsubscribeEndpoint(engine: engine).addRoutes(to: router, path: "/u")
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        let token = UnsubscribeToken(recipient: "ann@example.net", list: "news", campaign: "spring").make(secret: Array(Self.secret.utf8))
        let forged = UnsubscribeToken(recipient: "bob@example.net", list: "news", campaign: "spring").make(secret: Array("guess".utf8))
        let form: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]
        try await app.test(.live) { client in
            try await client.execute(uri: "/u?t=\(forged)", method: .post, headers: form, body: ByteBuffer(string: "List-Unsubscribe=One-Click")) { response in
                #expect(response.status == .forbidden)
            }
            #expect(try engine.store.suppressionTotal() == 0)
            // A GET only shows the confirmation page: nothing changes.
            try await client.execute(uri: "/u?t=\(token)", method: .get) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body).contains("List-Unsubscribe"))
            }
            #expect(try engine.store.suppressionTotal() == 0)
            // A POST without the one-click body is not an RFC 8058 unsubscribe.
            try await client.execute(uri: "/u?t=\(token)", method: .post, headers: form, body: ByteBuffer(string: "")) { response in
                #expect(response.status == .badRequest)
            }
            try await client.execute(uri: "/u?t=\(token)", method: .post, headers: form, body: ByteBuffer(string: "List-Unsubscribe=One-Click")) { response in
                #expect(response.status == .ok)
            }
        }
        let entry = try #require(try engine.store.suppression(of: "ann@example.net", scope: "news"))
        #expect(entry.reason == .unsubscribe)
        #expect(try engine.store.suppression(of: "ann@example.net", scope: "other") == nil)
        #expect(try engine.store.suppression(of: "bob@example.net", scope: "news") == nil)
    }
}
