// The cluster figures of the README and the closing notes, measured in one run against a
// real PostgreSQL server (scripts/cluster-bench.sh starts one and runs this in release):
//  1. lease contention: L lessees (each with its own connection pool, as separate nodes)
//     lease and record M messages in batches, for L = 1, 2, 4, 8: messages/s, and the
//     round trips per message;
//  2. one node end to end, the same workload on SQLite and on PostgreSQL: real SMTP from
//     two loopback IPs into a loopback receiver, messages/s and the ratio, and PostgreSQL
//     round trips per delivered message.
// Usage: kiln-cluster-bench URL [--messages N] [--lessees 1,2,4,8] [--smtp smtp://127.0.0.1:PORT]
// (the password in KILN_BENCH_POSTGRES_PASSWORD; the role needs CREATEDB).
import Foundation
import Kiln
import KilnCore
import KilnLoopback
import KilnPostgres
import KilnStore
import Logging
import PostgresNIO

struct Options {
    var url = ""
    var messages = 20_000
    var lessees = [1, 2, 4, 8]
    var smtp: String?

    init(_ arguments: [String]) {
        var rest = arguments.dropFirst()
        while let argument = rest.popFirst() {
            switch argument {
            case "--messages": messages = Int(rest.popFirst() ?? "") ?? messages
            case "--lessees": lessees = (rest.popFirst() ?? "").split(separator: ",").compactMap { Int($0) }
            case "--smtp": smtp = rest.popFirst()
            default: url = argument
            }
        }
    }
}

@main
struct ClusterBench {
    static func main() async throws {
        let options = Options(CommandLine.arguments)
        let password = ProcessInfo.processInfo.environment["KILN_BENCH_POSTGRES_PASSWORD"]
        let logger = Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() })
        let base = try PostgresSettings(url: options.url, password: password, tls: .disable)

        func withDatabase<T>(_ body: (PostgresSettings, String) async throws -> T) async throws -> T {
            let name = "kiln_bench_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(12)
            try await admin { try await $0.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: logger) }
            var settings = base
            settings.database = String(name)
            func drop() async throws {
                try await admin { try await $0.query(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(name) WITH (FORCE)"), logger: logger) }
            }
            do {
                let result = try await body(settings, "postgres://\(base.username)@\(base.host):\(base.port)/\(name)")
                try await drop()
                return result
            } catch {
                try? await drop()
                throw error
            }
        }

        func admin(_ body: (PostgresConnection) async throws -> Void) async throws {
            let connection = try await PostgresConnection.connect(
                configuration: .init(host: base.host, port: base.port, username: base.username, password: base.password, database: base.database, tls: .disable),
                id: 1, logger: logger)
            try await body(connection)
            try await connection.close()
        }

        func submissions(_ count: Int, prefix: String) -> [Submission] {
            let providers: [(String, MailboxProvider)] = [("gmail.com", .gmail), ("yahoo.com", .yahoo), ("outlook.com", .microsoft), ("example.org", .other)]
            return stride(from: 0, to: count, by: 500).map { start in
                Submission(content: StoredContent(data: Array("Subject: x\r\n\r\nx\r\n".utf8), envelopeDomain: "bounce.example.com", configurationSet: "bulk"),
                           recipients: (start..<min(count, start + 500)).map { i in
                               let (domain, provider) = providers[i % 4]
                               return .init(address: "\(prefix)\(i)@\(domain)", provider: provider)
                           })
            }
        }

        func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }

        // MARK: 1. Lease contention

        print("lease contention: \(options.messages) messages, batches of 100 (lease, then record them delivered)")
        print("lessees\tmessages/s\tround trips/message\tempty leases")
        var singleRate = 0.0
        for lessees in options.lessees {
            try await withDatabase { settings, _ in
                let loader = PostgresStore(settings: settings, logger: logger)
                _ = try await loader.enqueue(submissions(options.messages, prefix: "l"), now: SendEngine.wallClock())
                let stores = (0..<lessees).map { _ in PostgresStore(settings: settings, logger: logger) }
                for store in stores { try await store.migrate() }
                let before = stores.map(\.roundTrips)
                let started = ContinuousClock.now
                let empties = try await withThrowingTaskGroup(of: Int.self) { group in
                    for (i, store) in stores.enumerated() {
                        group.addTask {
                            var empty = 0
                            while true {
                                let now = SendEngine.wallClock()
                                let batch = try await store.lease(limit: 100, owner: "n\(i)/bench", now: now, leaseUntil: now + .seconds(60), excluding: [], pausedSets: [])
                                if batch.isEmpty { return empty }
                                try await store.record(batch.map { Outcome(id: $0.id, state: .delivered, reply: SMTPReply(code: 250, enhancedStatus: "2.0.0", text: "ok"),
                                                                           via: .dedicated(ip: "127.0.0.2"), epoch: $0.epoch, owner: "n\(i)/bench") }, events: [], now: now)
                            }
                        }
                    }
                    var total = 0
                    for try await e in group { total += e }
                    return total
                }
                let elapsed = seconds(ContinuousClock.now - started)
                let trips = zip(stores.map(\.roundTrips), before).map { $0 - $1 }.reduce(0, +)
                let rate = Double(options.messages) / elapsed
                if lessees == 1 { singleRate = rate }
                print("\(lessees)\t\(Int(rate))\t\(String(format: "%.3f", Double(trips) / Double(options.messages)))\t\(empties)" +
                      (lessees > 1 && singleRate > 0 ? "\t(\(String(format: "%.2f", rate / singleRate))× one lessee)" : ""))
            }
        }

        // MARK: 2. One node end to end: SQLite and PostgreSQL

        let receiver: LoopbackSMTPServer? = options.smtp == nil ? try await LoopbackSMTPServer.start() : nil
        let route = options.smtp ?? receiver!.url
        func configuration(store: Configuration.Store) -> Configuration {
            let roomy = Configuration.ProviderProfileOverride(coldHourly: 1_000_000_000, warmHourly: 1_000_000_000, maxConnections: 8, messagesPerConnection: 1_000)
            return Configuration(
                store: store, senderId: "Bench", identities: [.init(domain: "example.com", returnPathDomain: "bounce.example.com")],
                pools: [.init(name: "p", ips: ["127.0.0.2", "127.0.0.3"], scaling: .fixed)],
                delivery: .init(mode: .routes, routes: ["*": RouteList(route)], heloName: "mta.example.com", connectTimeoutSeconds: 5, transferTimeoutSeconds: 30,
                                tls: Configuration.TLSPolicy.none),
                providers: Dictionary(uniqueKeysWithValues: ["gmail", "microsoft", "yahoo", "apple", "other"].map { ($0, roomy) }),
                configurationSets: [.init(name: "bulk", pool: "p")], defaultConfigurationSet: "bulk",
                feedback: .init(returnPathSecretEnv: "KILN_BENCH_RETURN_PATH"))
        }

        func endToEnd(_ store: any MessageStore, directory: String, configuration: Configuration) async throws -> Double {
            var secrets = SecretSource(baseDirectory: directory)
            secrets.environment["KILN_BENCH_RETURN_PATH"] = "bench-return-path-secret-0123"
            let engine = try SendEngine(configuration: configuration, baseDirectory: directory, secrets: secrets, logger: logger, store: store)
            _ = try await store.enqueue(submissions(options.messages, prefix: "e"), now: SendEngine.wallClock())
            let started = ContinuousClock.now
            try await engine.runUntilIdle()
            let elapsed = seconds(ContinuousClock.now - started)
            let delivered = try await store.counts().filter { $0.state == .delivered }.reduce(0) { $0 + $1.count }
            guard delivered == options.messages else { throw KilnError(.storeFailure, "only \(delivered) of \(options.messages) were delivered") }
            return Double(delivered) / elapsed
        }

        print("\none node end to end: \(options.messages) messages over real SMTP from 2 loopback IPs into \(options.smtp == nil ? "a Kiln loopback receiver" : route)")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-bench-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var rates: [String: [Double]] = [:]
        var pgTrips: [Double] = []
        for round in 0..<3 {
            let sqlitePath = directory + "/round\(round).sqlite"
            rates["sqlite", default: []].append(try await endToEnd(try SQLiteStore(path: sqlitePath), directory: directory, configuration: configuration(store: .init(path: sqlitePath))))
            try await withDatabase { settings, url in
                let store = PostgresStore(settings: settings, logger: logger)
                try await store.migrate()
                let before = store.roundTrips
                rates["postgres", default: []].append(try await endToEnd(store, directory: directory, configuration: configuration(store: .init(url: url))))
                // The enqueue's own statements are left out: one per 500 recipients, plus its transaction.
                pgTrips.append(Double(store.roundTrips - before - 3 * ((options.messages + 499) / 500)) / Double(options.messages))
            }
        }
        try? FileManager.default.removeItem(atPath: directory)
        func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
        print("store\tmessages/s (median of 3)\truns")
        for name in ["sqlite", "postgres"] {
            print("\(name)\t\(Int(median(rates[name]!)))\t\(rates[name]!.map { String(Int($0)) }.joined(separator: ", "))")
        }
        print("postgres / sqlite: \(String(format: "%.2f", median(rates["postgres"]!) / median(rates["sqlite"]!)))")
        print("postgres round trips per delivered message (median): \(String(format: "%.3f", median(pgTrips)))")
        await receiver?.shutdown()

    }
}
