import Foundation
import KilnCore
import KilnPostgres
import Logging
import PostgresNIO

/// The PostgreSQL server the cluster tests run against: `KILN_TEST_POSTGRES_URL` (with
/// `KILN_TEST_POSTGRES_PASSWORD`), set by `scripts/postgres-test-env.sh` (which `make test`
/// runs). Without it these suites are skipped, unless `KILN_REQUIRE_POSTGRES=1` (CI) makes
/// them run and fail. Each test gets a database of its own, dropped at its end.
enum PostgresTestServer {
    static let environment = ProcessInfo.processInfo.environment
    static let url = environment["KILN_TEST_POSTGRES_URL"]
    static let password = environment["KILN_TEST_POSTGRES_PASSWORD"]
    static var enabled: Bool { url != nil || environment["KILN_REQUIRE_POSTGRES"] == "1" }

    /// A fresh, empty database and its settings.
    static func freshDatabase() async throws -> TestDatabase {
        guard let url else { throw KilnError(.invalidConfiguration, "KILN_TEST_POSTGRES_URL is not set (run the tests with `make test`)") }
        let base = try PostgresSettings(url: url, password: password, tls: .disable)
        let name = "kiln_t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)
        try await admin(base) { connection in
            try await connection.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: logger)
        }
        var settings = base
        settings.database = String(name)
        return TestDatabase(base: base, settings: settings, url: "postgres://\(base.username)@\(base.host):\(base.port)/\(name)")
    }

    static let logger = Logger(label: "kiln.test.postgres")

    static func admin(_ settings: PostgresSettings, _ body: (PostgresConnection) async throws -> Void) async throws {
        let configuration = PostgresConnection.Configuration(
            host: settings.host, port: settings.port, username: settings.username, password: settings.password, database: settings.database, tls: .disable)
        let connection = try await PostgresConnection.connect(configuration: configuration, id: 1, logger: logger)
        do {
            try await body(connection)
        } catch {
            try? await connection.close()
            throw error
        }
        try await connection.close()
    }
}

struct TestDatabase {
    let base: PostgresSettings
    let settings: PostgresSettings
    /// The URL of this database (no password).
    let url: String

    func store() -> PostgresStore { PostgresStore(settings: settings) }

    func drop() async {
        try? await PostgresTestServer.admin(base) { connection in
            try await connection.query(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(settings.database) WITH (FORCE)"), logger: PostgresTestServer.logger)
        }
    }
}
