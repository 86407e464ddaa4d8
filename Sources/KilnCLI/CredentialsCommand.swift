import ArgumentParser
import Foundation
import Kiln
import KilnCore
import KilnStore
import KilnSubmission

/// `kiln credentials`: the front door's credentials, kept in the store (every node on a
/// shared store sees the same ones) as salted PBKDF2 hashes; a secret is printed once.
struct Credentials: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Credentials for SMTP submission and the HTTP API, each scoped to a tenant, identities, From addresses and networks.",
        subcommands: [Create.self, List.self, Revoke.self, Rotate.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a credential and print its secret (shown once, never stored in clear).")
        @OptionGroup var options: ConfigOption
        @Option(help: "The credential's name (the SMTP user name and the HTTP Basic user): letters, digits, '-', '_', '.', '@'.") var name: String
        @Option(help: "The tenant it sends as (default: default).") var tenant = Configuration.defaultTenant
        @Option(help: "Only this identity's domain (repeatable; default: every identity the tenant may use).") var identity: [String] = []
        @Option(help: "Only this From address (repeatable).") var from: [String] = []
        @Option(help: "Only from this network, ADDRESS or ADDRESS/PREFIX (repeatable; default: any).") var source: [String] = []
        @OptionGroup var output: OutputOptions

        func validate() throws {
            guard (1...128).contains(name.count), name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.@".contains($0)) }) else {
                throw ValidationError("--name: 1 to 128 letters, digits, '-', '_', '.' or '@'")
            }
            for network in source where Configuration.network(network) == nil {
                throw ValidationError("--source: '\(network)' is not an address or ADDRESS/PREFIX")
            }
            for address in from where (try? EmailAddress(address)) == nil {
                throw ValidationError("--from: '\(address)' is not an email address")
            }
        }

        func run() async throws {
            let engine = try SendEngine(configurationFile: options.config, logger: makeLogger())
            try engine.validateTenant(tenant)
            let authorization = SendingAuthorization(configuration: engine.configuration)
            for domain in identity {
                guard let known = engine.configuration.identities.first(where: { $0.domain.lowercased() == domain.lowercased() }) else {
                    throw ValidationError("--identity: no identity '\(domain)' (identities: \(engine.configuration.identities.map(\.domain).joined(separator: ", ")))")
                }
                let probe = try EmailAddress("postmaster@" + known.domain)
                if authorization.envelopeRefusal(tenant: tenant, scope: .unrestricted, address: probe) != nil {
                    throw ValidationError("--identity: tenant \(tenant) may not send from \(known.domain) (it is not its owner and has no authorization there)")
                }
            }
            for address in from {
                if let refusal = authorization.refusal(tenant: tenant, scope: .unrestricted, from: try EmailAddress(address), configurationSet: nil),
                   authorization.envelopeRefusal(tenant: tenant, scope: .unrestricted, address: try EmailAddress(address)) != nil {
                    throw ValidationError("--from: \(refusal)")
                }
            }
            let secret = try await engine.createCredential(name: name, tenant: tenant, identities: identity, fromAddresses: from, sources: source)
            if output.json {
                printJSON(["name": name, "secret": secret])
            } else {
                print("created credential \(name) for tenant \(tenant)")
                print("secret: \(secret)")
                print("(shown once; Kiln keeps only a salted hash of it)")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The credentials, without their secrets.")
        @OptionGroup var options: ConfigOption
        @OptionGroup var output: OutputOptions
        func run() async throws {
            let engine = try SendEngine(configurationFile: options.config, logger: makeLogger())
            let now = engine.currentTime()
            let records = try await engine.credentials()
            struct Line: Encodable {
                var name, tenant, state, created: String
                var identities, fromAddresses, sources: [String]
                var previousSecretValidUntil: String?
            }
            let lines = records.map { record in
                Line(name: record.name, tenant: record.tenant, state: record.revokedAt == nil ? "active" : "revoked", created: iso8601(record.createdAt),
                     identities: record.identities, fromAddresses: record.fromAddresses, sources: record.sources,
                     previousSecretValidUntil: record.previousUntil.flatMap { $0 > now ? iso8601($0) : nil })
            }
            if output.json { printJSON(lines); return }
            if lines.isEmpty { print("no credentials (create one with kiln credentials create)") }
            for line in lines {
                var text = "\(line.name)\t\(line.tenant)\t\(line.state)\tcreated \(line.created)"
                if !line.identities.isEmpty { text += "\tidentities \(line.identities.joined(separator: ","))" }
                if !line.fromAddresses.isEmpty { text += "\tfrom \(line.fromAddresses.joined(separator: ","))" }
                if !line.sources.isEmpty { text += "\tsources \(line.sources.joined(separator: ","))" }
                if let until = line.previousSecretValidUntil { text += "\told secret valid until \(until)" }
                print(text)
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a credential: refused on every node within a few seconds.")
        @OptionGroup var options: ConfigOption
        @Argument(help: "The credential's name.") var name: String
        @OptionGroup var output: OutputOptions
        func run() async throws {
            let engine = try SendEngine(configurationFile: options.config, logger: makeLogger())
            guard try await engine.revokeCredential(name: name) else {
                throw ValidationError("no active credential named '\(name)'")
            }
            if output.json { printJSON(["name": name, "state": "revoked"]) } else { print("revoked \(name)") }
        }
    }

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Give a credential a new secret (printed once); the old one keeps working for --grace-hours (default 24).")
        @OptionGroup var options: ConfigOption
        @Argument(help: "The credential's name.") var name: String
        @Option(name: .customLong("grace-hours"), help: "Hours the old secret keeps working (0-720; default 24).") var graceHours = 24.0
        @OptionGroup var output: OutputOptions
        func validate() throws {
            guard (0...720).contains(graceHours) else { throw ValidationError("--grace-hours: must be between 0 and 720") }
        }
        func run() async throws {
            let engine = try SendEngine(configurationFile: options.config, logger: makeLogger())
            guard let rotated = try await engine.rotateCredential(name: name, grace: .seconds(graceHours * 3_600)) else {
                throw ValidationError("no active credential named '\(name)'")
            }
            let (secret, until) = rotated
            if output.json {
                printJSON(["name": name, "secret": secret, "previousSecretValidUntil": iso8601(until)])
            } else {
                print("rotated \(name); the old secret works until \(iso8601(until))")
                print("secret: \(secret)")
            }
        }
    }
}
