import ArgumentParser
import Foundation
import Kiln
import KilnCore
import KilnServe
import KilnStore
import KilnSubmission
import Logging
import Metrics
import Prometheus
import ServiceLifecycle
import Synchronization
import UnixSignals

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Deliver the queue until stopped (SIGINT/SIGTERM), or with --until-idle until nothing is due; with --listen, also serve the HTTP API (/v1), /metrics, /healthz, /readyz and the unsubscribe routes; with submission.smtp configured, also take mail over SMTP.")
    @OptionGroup var options: ConfigOption
    @Flag(name: .customLong("until-idle"), help: "Return once no message is due or in flight.") var untilIdle = false
    @OptionGroup var nodeOption: NodeOption
    @Option(help: "Serve the HTTP API (/v1/messages), /metrics (Prometheus), /healthz, /readyz and the one-click unsubscribe routes on HOST:PORT, in the same process.")
    var listen: String?
    @Option(name: .customLong("shutdown-timeout"), help: "Seconds a graceful shutdown may take (default 30); then transfers still running are cancelled and their messages return to the queue.")
    var shutdownTimeout: Double = 30
    @OptionGroup var logging: LogOptions
    @Option(name: .customLong("metrics-interval"), help: .hidden) var metricsInterval: Double = 10

    func validate() throws {
        if !(metricsInterval >= 0.1) { throw ValidationError("--metrics-interval must be at least 0.1 seconds") }
        if !(shutdownTimeout > 0 && shutdownTimeout <= 3_600) { throw ValidationError("--shutdown-timeout must be more than 0 and at most 3600 seconds") }
        if listen != nil && untilIdle { throw ValidationError("--listen runs until stopped; it does not go with --until-idle") }
        if let listen { _ = try ListenAddress(listen) }
    }

    func run() async throws {
        let logger = logging.makeLogger()
        // The CLI's metrics backend: Prometheus (the engine only knows swift-metrics).
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        let housekeeping = Housekeeping(metricsInterval: .milliseconds(Int64(metricsInterval * 1_000)))
        let engine = try SendEngine(configurationFile: options.config, logger: logger, node: nodeOption.node, housekeeping: housekeeping)
        try engine.checkSecrets(for: .delivery)
        try engine.checkSourceAddresses()
        // A warning for every failing authentication check (delivery.requireAuthentication
        // makes the engine refuse instead).
        if engine.configuration.delivery.requireAuthentication != true, engine.configuration.delivery.identityCheckAtStart != false {
            for finding in await engine.checkIdentities() where !finding.passed {
                logger.warning("sender authentication check failed (kiln identity check)", metadata: [
                    "check": "\(finding.check.rawValue)", "subject": "\(finding.subject)", "problem": "\(finding.message)", "fix": "\(finding.fix ?? "-")",
                ])
            }
        }
        if untilIdle {
            try await engine.runUntilIdle()
            try await engine.deliverEventsBeforeExit(logger: logger)
            return
        }
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        var submission = try SubmissionService.settings(for: engine, baseDirectory: URL(fileURLWithPath: options.config).deletingLastPathComponent().path)
        let gate = (listen != nil || submission != nil) ? try SubmissionGate(engine: engine, logger: logger) : nil
        // Inbound connections get what delivery, the store and the event files leave them.
        let budget = DescriptorBudget.make(for: engine, http: listen != nil, smtp: submission != nil)
        if budget.fits {
            logger.info("open-file budget", metadata: ["budget": "\(budget)"])
        } else {
            logger.warning("the open-file limit is too low for delivery.maxInFlight and the listeners; raise it (ulimit -n)",
                           metadata: ["budget": "\(budget)"])
        }
        submission?.maxConnections = budget.smtp
        if let listen, let gate {
            // PostgreSQL's round trips so far, brought up to date on every scrape.
            let roundTrips = engine.storeRoundTrips.map { _ in RoundTripCounter(registry: registry) }
            // Started first, stopped last: /readyz says "shutting down" while delivery drains.
            let app = try operationsApplication(engine: engine, gate: gate, listen: try ListenAddress(listen), maxConnections: budget.http,
                                                logger: logger) {
                if let roundTrips, let total = engine.storeRoundTrips { roundTrips.catchUp(to: total) }
                return registry.emitToBuffer()
            }
            services.append(.init(service: app))
        }
        if let submission, let gate {
            services.append(.init(service: SubmissionService(settings: submission, gate: gate, logger: logger)))
        }
        services.append(.init(service: engine))
        var configuration = ServiceGroupConfiguration(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        configuration.maximumGracefulShutdownDuration = .milliseconds(Int64(shutdownTimeout * 1_000))
        // Whatever hangs, the process ends within the timeout and a margin.
        let watchdog = ShutdownWatchdog(limit: .milliseconds(Int64(shutdownTimeout * 1_000)) + ShutdownWatchdog.margin, logger: logger)
        watchdog.watch()
        try await ServiceGroup(configuration: configuration).run()
    }
}

/// `kiln_store_round_trips_total`: the PostgreSQL store's statement count, which the store
/// keeps itself; the counter catches up with it when /metrics is read.
final class RoundTripCounter: Sendable {
    let counter: Prometheus.Counter
    let counted = Mutex(0)

    init(registry: PrometheusCollectorRegistry) {
        counter = registry.makeCounter(name: "kiln_store_round_trips_total", help: "Statements sent to the PostgreSQL store (each one round trip)")
    }

    func catchUp(to total: Int) {
        let delta = counted.withLock { counted in
            defer { counted = max(counted, total) }
            return total - counted
        }
        if delta > 0 { counter.increment(by: Int64(delta)) }
    }
}

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Queue depth by state and provider, pools, and what is paused.")
    @OptionGroup var options: ConfigOption
    @OptionGroup var output: OutputOptions

    func run() async throws {
        let engine = try SendEngine(configurationFile: options.config, logger: makeLogger())
        let status = try await engine.status()
        if output.json {
            printJSON(StatusOutput(status))
            return
        }
        print("sending: \(status.pausedScopes.contains("*") ? "PAUSED" : "active")\(status.pausedScopes.filter { $0 != "*" }.map { ", \($0) paused" }.joined())")
        if !status.nodes.isEmpty {
            print("node\tlast heartbeat\tleased\tips")
            for node in status.nodes {
                print("\(node.node)\t\(node.heartbeatAt) (\(node.secondsAgo) s ago)\t\(node.leased)\t\(node.ips.joined(separator: " "))")
            }
        }
        if let limit = engine.configuration.sharedPool?.dailyLimit, !status.relaySlices.isEmpty {
            let used = status.relaySlices.reduce(0) { $0 + $1.used }
            print("shared relay today: \(used) of \(limit) sent; " + status.relaySlices.map { slice in
                "node \(slice.node) \(slice.used) sent, \(slice.remaining) left of its slice"
            }.joined(separator: "; "))
        }
        for pool in status.pools {
            if let byNode = pool.activeByNode, let maxIPs = pool.maxIPs {
                let active = byNode.values.reduce(0, +)
                print("pool \(pool.name): \(active) of at most \(maxIPs) IPs in use across the nodes ("
                      + (byNode.isEmpty ? "no node running" : byNode.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")) + ")")
            } else {
                print("pool \(pool.name): \(pool.active.joined(separator: ", ")) in use of \(pool.ips.joined(separator: ", "))")
            }
        }
        if !status.warmup.isEmpty {
            print("warm-up\tip\tprovider\tlevel\tsafe/hour\tresting until")
            for pair in status.warmup {
                print("\t\(pair.ip)\t\(pair.provider)\t\(pair.percent)%\t\(pair.hourly)\t\(pair.suspendedUntil.map { "\($0)" } ?? "-")")
            }
        }
        print("reputation\tscope\tstatus\tbounce rate\tcomplaint rate\tsends in window")
        for (scope, r) in status.reputation.sorted(by: { $0.key < $1.key }) {
            print("\t\(scope == "*" ? "account" : scope)\t\(r.status.rawValue)\t\(percent(r.bounceRate))\t\(percent(r.complaintRate))\t\(r.sent)")
        }
        if !status.destinations.isEmpty {
            print("destination\ttype\tpending\tlast error")
            for d in status.destinations {
                print("\(d.name)\t\(d.type)\t\(d.pending)\t\(d.lastError.map { "\($0) (at \(d.lastErrorAt.map(iso8601) ?? "?"))" } ?? "-")")
            }
        }
        if !status.receivingHosts.isEmpty {
            print("receiving hosts (last 10,000 deliveries)\tprovider\thost\tdeliveries")
            for h in status.receivingHosts { print("\t\(h.provider.id)\t\(h.host)\t\(h.deliveries)") }
        }
        if !status.suppressed.isEmpty {
            print("suppressed: " + status.suppressed.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", "))
        }
        let states = MessageState.allCases.filter { s in status.counts.contains { $0.state == s } }
        let providers = Set(status.counts.map(\.provider)).sorted()
        print(["provider"].appending(contentsOf: states.map(\.description)).joined(separator: "\t"))
        for provider in providers {
            let row = states.map { s in String(status.counts.first { $0.state == s && $0.provider == provider }?.count ?? 0) }
            print(([provider.id] + row).joined(separator: "\t"))
        }
    }
}

struct StatusOutput: Encodable {
    var paused: Bool
    var pausedConfigurationSets: [String]
    var byState: [String: Int]
    var byProvider: [String: [String: Int]]
    var pools: [EngineStatus.PoolStatus]
    var warmup: [EngineStatus.PairStatus]
    var reputation: [String: ReputationSnapshot]
    var suppressed: [String: Int]
    var nodes: [EngineStatus.NodeInfo]
    var relaySlices: [QuotaSlice]
    var destinations: [DestinationStatus]
    var receivingHosts: [HostCount]
    init(_ s: EngineStatus) {
        destinations = s.destinations
        nodes = s.nodes
        relaySlices = s.relaySlices
        receivingHosts = s.receivingHosts
        warmup = s.warmup
        reputation = s.reputation
        suppressed = s.suppressed
        paused = s.pausedScopes.contains("*")
        pausedConfigurationSets = s.pausedScopes.filter { $0 != "*" }
        byState = s.byState
        byProvider = s.counts.reduce(into: [:]) { $0[$1.provider.id, default: [:]][$1.state.description, default: 0] += $1.count }
        pools = s.pools
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create or upgrade the store's schema (PostgreSQL: run before the nodes start; they also migrate on start).")
    @OptionGroup var options: ConfigOption

    func run() async throws {
        let engine = try SendEngine(configurationFile: options.config, logger: makeLogger())
        let ran = try await engine.migrateStore()
        print("\(engine.storeLocation): schema up to date (\(ran) migration\(ran == 1 ? "" : "s") applied)")
    }
}

struct Pause: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Stop all sending (kill switch), one configuration set's or one tenant's; persisted until resume.")
    @OptionGroup var options: ConfigOption
    @Option(name: .customLong("config-set"), help: "Pause only this configuration set.") var configSet: String?
    @Option(help: "Pause only this tenant's mail (other tenants keep sending, from the same identities too).") var tenant: String?
    @OptionGroup var output: OutputOptions
    func validate() throws {
        if configSet != nil && tenant != nil { throw ValidationError("give --config-set or --tenant, not both") }
    }
    func run() async throws {
        try await control(options, configSet) { engine in
            if let tenant { try await engine.pause(tenant: tenant) } else { try await engine.pause(configurationSet: configSet) }
        }
        let scope = tenant.map { "tenant:\($0)" } ?? configSet ?? "*"
        if output.json { printJSON(["action": "pause", "scope": scope]) } else { print("paused \(tenant.map { "tenant \($0)" } ?? configSet ?? "all sending")") }
    }
}

struct Resume: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Resume sending after pause.")
    @OptionGroup var options: ConfigOption
    @Option(name: .customLong("config-set"), help: "Resume only this configuration set.") var configSet: String?
    @Option(help: "Resume only this tenant.") var tenant: String?
    @OptionGroup var output: OutputOptions
    func validate() throws {
        if configSet != nil && tenant != nil { throw ValidationError("give --config-set or --tenant, not both") }
    }
    func run() async throws {
        try await control(options, configSet) { engine in
            if let tenant { try await engine.resume(tenant: tenant) } else { try await engine.resume(configurationSet: configSet) }
        }
        let scope = tenant.map { "tenant:\($0)" } ?? configSet ?? "*"
        if output.json { printJSON(["action": "resume", "scope": scope]) } else { print("resumed \(tenant.map { "tenant \($0)" } ?? configSet ?? "all sending")") }
    }
}

func percent(_ value: Double) -> String { String(format: "%.2f%%", value * 100) }

/// Opens the engine, checks `--config-set`, and applies a pause or a resume.
func control(_ options: ConfigOption, _ configSet: String?, _ apply: (SendEngine) async throws -> Void) async throws {
    let engine = try SendEngine(configurationFile: options.config, logger: makeLogger())
    try checkConfigSet(configSet, engine)
    try await apply(engine)
}

func checkConfigSet(_ name: String?, _ engine: SendEngine) throws {
    do {
        try engine.validateConfigurationSet(name)
    } catch {
        throw ValidationError("--config-set: \(error.message)")
    }
}

extension Array {
    func appending(contentsOf other: [Element]) -> [Element] { self + other }
}
