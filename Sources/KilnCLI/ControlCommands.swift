import ArgumentParser
import Foundation
import Kiln
import KilnCore
import KilnStore
import ServiceLifecycle
import UnixSignals

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Deliver the queue until stopped (SIGINT/SIGTERM), or with --until-idle until nothing is due.")
    @OptionGroup var options: ConfigOption
    @Flag(name: .customLong("until-idle"), help: "Return once no message is due or in flight.") var untilIdle = false
    @OptionGroup var nodeOption: NodeOption

    func run() async throws {
        let logger = makeLogger()
        let engine = try SendEngine(configurationFile: options.config, logger: logger, node: nodeOption.node)
        try engine.checkSecrets(for: .delivery)
        try engine.checkSourceAddresses()
        // A warning for every failing authentication check (delivery.requireAuthentication
        // makes the engine refuse instead).
        if engine.configuration.delivery.requireAuthentication != true {
            for finding in await engine.checkIdentities() where !finding.passed {
                logger.warning("sender authentication check failed (kiln identity check)", metadata: [
                    "check": "\(finding.check.rawValue)", "subject": "\(finding.subject)", "problem": "\(finding.message)", "fix": "\(finding.fix ?? "-")",
                ])
            }
        }
        if untilIdle {
            try await engine.runUntilIdle()
        } else {
            let group = ServiceGroup(services: [engine], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
            try await group.run()
        }
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
        for pool in status.pools {
            print("pool \(pool.name): \(pool.active.joined(separator: ", ")) in use of \(pool.ips.joined(separator: ", "))")
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
    var receivingHosts: [HostCount]
    init(_ s: EngineStatus) {
        nodes = s.nodes
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
        let ran = try await engine.store.migrate()
        print("\(engine.store.location): schema up to date (\(ran) migration\(ran == 1 ? "" : "s") applied)")
    }
}

struct Pause: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Stop all sending (kill switch), or one configuration set's; persisted until resume.")
    @OptionGroup var options: ConfigOption
    @Option(name: .customLong("config-set"), help: "Pause only this configuration set.") var configSet: String?
    func run() async throws {
        try await control(options, configSet) { try await $0.pause(configurationSet: configSet) }
        print("paused \(configSet ?? "all sending")")
    }
}

struct Resume: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Resume sending after pause.")
    @OptionGroup var options: ConfigOption
    @Option(name: .customLong("config-set"), help: "Resume only this configuration set.") var configSet: String?
    func run() async throws {
        try await control(options, configSet) { try await $0.resume(configurationSet: configSet) }
        print("resumed \(configSet ?? "all sending")")
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
