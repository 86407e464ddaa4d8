import Foundation
import KilnCore
import NIOSSL
import PostgresNIO

/// Where a PostgreSQL store is and how to reach it: a `postgres://user@host:port/database`
/// URL (never with a password in it), the password (from the environment or a file, read
/// by the caller), and the TLS mode.
public struct PostgresSettings: Sendable, Equatable {
    /// `disable`: plain TCP (loopback only); `prefer`: TLS when the server offers it, not
    /// verified; `require`: TLS, not verified; `verify`: TLS, the certificate checked
    /// against `caFile` (else the system's trust store) and the host name.
    public enum TLSMode: String, Sendable, Codable, CaseIterable {
        case disable, prefer, require, verify
    }

    public var host: String
    public var port: Int
    public var username: String
    public var database: String
    public var password: String?
    public var tls: TLSMode
    public var caFile: String?

    /// The URL without any secret, for messages.
    public var location: String { "postgres://\(username)@\(host):\(port)/\(database)" }

    /// Parses `url`; the error says what is wrong with it.
    public init(url: String, password: String?, tls: TLSMode = .prefer, caFile: String? = nil) throws(KilnError) {
        guard let components = URLComponents(string: url), let scheme = components.scheme, ["postgres", "postgresql"].contains(scheme.lowercased()) else {
            throw KilnError(.invalidConfiguration, "'\(url.escapingControlCharacters)' is not a postgres://user@host:port/database URL", location: "store.url")
        }
        guard components.password == nil else {
            throw KilnError(.invalidConfiguration, "the URL must not hold a password: name it with store.passwordEnv or store.passwordFile", location: "store.url")
        }
        guard let host = components.host, !host.isEmpty else {
            throw KilnError(.invalidConfiguration, "the URL names no host", location: "store.url")
        }
        guard let user = components.user, !user.isEmpty else {
            throw KilnError(.invalidConfiguration, "the URL names no user (postgres://user@host/database)", location: "store.url")
        }
        let database = String(components.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty, !database.contains("/") else {
            throw KilnError(.invalidConfiguration, "the URL names no database (postgres://user@host/database)", location: "store.url")
        }
        self.host = host
        self.port = components.port ?? 5432
        self.username = user
        self.database = database
        self.password = password
        self.tls = tls
        self.caFile = caFile
    }

    /// The TLS configuration of `prefer`, `require` and `verify` (nil for `disable`).
    func tlsConfiguration() -> TLSConfiguration? {
        guard tls != .disable else { return nil }
        var configuration = TLSConfiguration.makeClientConfiguration()
        if tls == .verify {
            configuration.certificateVerification = .fullVerification
            if let caFile { configuration.trustRoots = .file(caFile) }
        } else {
            configuration.certificateVerification = .none
        }
        return configuration
    }

    /// The pool's configuration (TLS set up as asked).
    func clientConfiguration() -> PostgresClient.Configuration {
        let setting: PostgresClient.Configuration.TLS
        if let tlsConfiguration = tlsConfiguration() {
            setting = tls == .prefer ? .prefer(tlsConfiguration) : .require(tlsConfiguration)
        } else {
            setting = .disable
        }
        var configuration = PostgresClient.Configuration(host: host, port: port, username: username, password: password, database: database, tls: setting)
        configuration.options.maximumConnections = 8
        configuration.options.connectTimeout = .seconds(10)
        return configuration
    }

    /// One connection's configuration (the node lock's), TLS as for the pool.
    func connectionConfiguration() throws -> PostgresConnection.Configuration {
        let setting: PostgresConnection.Configuration.TLS
        if let tlsConfiguration = tlsConfiguration() {
            let context = try NIOSSLContext(configuration: tlsConfiguration)
            setting = tls == .prefer ? .prefer(context) : .require(context)
        } else {
            setting = .disable
        }
        var configuration = PostgresConnection.Configuration(host: host, port: port, username: username, password: password, database: database, tls: setting)
        configuration.options.connectTimeout = .seconds(10)
        return configuration
    }
}
