import ArgumentParser
import Foundation
import KilnCore
import KilnSimulation

struct Simulate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the engine's warm-up against simulated mailbox providers over days of virtual time.")
    @Option(help: "The scenario file (JSON); see Scenarios/.") var scenario: String?
    @Option(help: "Instead of a scenario file: draw this many random scenarios (see the README's ranges).") var random: Int?
    @Option(help: "The random family's seed.") var seed: UInt64 = 1
    @Option(help: "How the random family's providers word throttles and blocks: known (the reply table's phrases), paraphrase, generic, foreign, or mixed (each provider draws one).")
    var wording: String = "mixed" 
    @Option(help: "The random family's largest demand a day (default 3,000,000).") var maxDemand: Double?
    @Option(help: "Scenarios run at once in a random family (default: the processor count).") var workers: Int?
    @Option(help: "adaptive, fixed:ses45, fixed:stages30, none, oracle, or all.") var strategy = "adaptive"
    @Option(help: "Simulate this many days instead of the scenario's.") var days: Int?
    @Option(help: "Write here: charts.svg and days-STRATEGY.csv per strategy; with --random, family.json, family.svg and the worst, blocked and expired scenarios (worst-N.json ...).") var out: String?
    @Option(help: "Adaptive warm-up parameters to try instead of the defaults, as JSON (e.g. '{\"probeStep\": 0.02}'); see WarmupModel.")
    var warmupModel: String?
    @OptionGroup var output: OutputOptions

    /// The defaults with the `--warmup-model` fields set over them.
    func model() throws -> WarmupModel {
        guard let warmupModel else { return WarmupModel() }
        guard let given = try? JSONSerialization.jsonObject(with: Data(warmupModel.utf8)) as? [String: Any] else {
            throw ValidationError("--warmup-model must be a JSON object")
        }
        var merged = try JSONSerialization.jsonObject(with: JSONEncoder().encode(WarmupModel())) as? [String: Any] ?? [:]
        for (key, value) in given {
            guard merged[key] != nil else { throw ValidationError("--warmup-model: unknown key \(key)") }
            merged[key] = value
        }
        do {
            return try JSONDecoder().decode(WarmupModel.self, from: JSONSerialization.data(withJSONObject: merged))
        } catch {
            throw ValidationError("--warmup-model: \(error)")
        }
    }

    func validate() throws {
        if (scenario == nil) == (random == nil) { throw ValidationError("give either --scenario FILE or --random K") }
        if let random, !(1...100_000).contains(random) { throw ValidationError("--random must be between 1 and 100000") }
        if let workers, !(1...256).contains(workers) { throw ValidationError("--workers must be between 1 and 256") }
        if let maxDemand, !(20_000...1_000_000_000).contains(maxDemand) { throw ValidationError("--max-demand must be between 20000 and 1000000000") }
        if strategy != "all" && SimulationStrategy(strategy) == nil {
            throw ValidationError("--strategy must be adaptive, fixed:ses45, fixed:stages30, none, oracle or all")
        }
        if let days, !(1...3_650).contains(days) { throw ValidationError("--days must be between 1 and 3650") }
    }

    func run() async throws {
        if let random { return try await runFamily(random) }
        guard let scenario else { return }
        var loaded = try Scenario.load(path: scenario)
        if let days { loaded.days = days }
        let strategies = strategy == "all" ? SimulationStrategy.all : [SimulationStrategy(strategy)!]
        let simulator = Simulator(scenario: loaded, model: try model())
        let results = await withTaskGroup(of: (Int, SimulationResult).self) { group in
            for (index, s) in strategies.enumerated() { group.addTask { (index, simulator.run(s)) } }
            var results: [(Int, SimulationResult)] = []
            for await result in group { results.append(result) }
            return results.sorted { $0.0 < $1.0 }.map(\.1)
        }
        var written: [String] = []
        if let out {
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            try SimulationReport.svg(results, title: "\(loaded.name ?? scenario): \(loaded.days) days")
                .write(toFile: "\(out)/charts.svg", atomically: true, encoding: .utf8)
            written.append("charts.svg")
            for result in results {
                let name = "days-" + result.strategy.description.replacingOccurrences(of: ":", with: "-") + ".csv"
                try SimulationReport.csv(result).write(toFile: "\(out)/\(name)", atomically: true, encoding: .utf8)
                written.append(name)
            }
        }
        if output.json {
            printJSON(SimulationOutput(scenario: loaded.name ?? scenario, days: loaded.days, strategies: results.map(\.summary)))
            return
        }
        print("scenario \(loaded.name ?? scenario), \(loaded.days) days")
        print("strategy         dedicated  throttle  blocks  expired  ip-days  p95 queue h  days to full")
        for r in results.map(\.summary) {
            let full = r.daysToFull.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value.map(String.init) ?? "-")" }.joined(separator: ", ")
            print(r.strategy.padding(toLength: 16, withPad: " ", startingAt: 0)
                + String(format: " %8.1f%%  %7.2f%%  %6d  %7d  %7d  %11.2f  ", r.dedicatedShare * 100, r.throttleRate * 100, r.blocks, r.expired,
                         r.ipDays, r.p95QueueHours) + full)
        }
        if let out { print("wrote in \(out): " + written.joined(separator: ", ")) }
    }
}

extension Simulate {
    /// `--random K`: K scenarios of the seeded family, every family strategy, the distribution.
    func runFamily(_ count: Int) async throws {
        guard let wording = ScenarioFamily.Wording(rawValue: wording) else {
            throw ValidationError("--wording must be one of: " + ScenarioFamily.Wording.allCases.map(\.rawValue).joined(separator: ", "))
        }
        let family = ScenarioFamily(seed: seed, days: days ?? 30, messagesPerDay: 20_000...(maxDemand ?? 3_000_000), wording: wording)
        let scenarios = family.scenarios(count)
        let results = await Simulator.runFamily(scenarios, model: try model(), workers: workers ?? ProcessInfo.processInfo.activeProcessorCount)
        var report = FamilyReport(seed: seed, days: family.days, scenarios: scenarios, results: results)
        report.wording = wording.rawValue
        var written: [String] = []
        if let out {
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
            try encoder.encode(report).write(to: URL(fileURLWithPath: "\(out)/family.json"))
            written.append("family.json")
            let title = "kiln simulate --random \(count) --seed \(seed)" + (days.map { " --days \($0)" } ?? "")
            try report.svg(title: title).write(toFile: "\(out)/family.svg", atomically: true, encoding: .utf8)
            written.append("family.svg")
            // Only the files written now: a list that is empty writes none, and names none.
            for (name, list) in [("worst", report.worst), ("blocked", report.blocked), ("expired", report.expired)] {
                for (index, scenario) in list.enumerated() {
                    let file = "\(name)-\(index + 1).json"
                    try encoder.encode(scenario).write(to: URL(fileURLWithPath: "\(out)/\(file)"))
                    written.append(file)
                }
            }
        }
        if output.json {
            printJSON(report)
            return
        }
        print("random family: \(count) scenarios, seed \(seed), \(family.days) days, wording \(wording.rawValue); ratio = dedicatedShare / oracle's")
        print("strategy         min    p5     median mean   blocks  max throttle  expired  p95 queue h (median/mean/max, >1 h)  ip-days")
        for line in report.strategies {
            let r = line.ratioToOracle
            print(line.strategy.padding(toLength: 16, withPad: " ", startingAt: 0)
                + String(format: " %.3f  %.3f  %.3f  %.3f  %6d  %11.2f%%  %7d  %6.2f / %5.2f / %5.2f, %3d       %7d", r.min, r.p5, r.median, r.mean,
                         line.withBlocks, line.maxThrottleRate * 100, line.withExpired, line.medianP95QueueHours, line.meanP95QueueHours,
                         line.maxP95QueueHours, line.withP95QueueOverAnHour, line.ipDays))
        }
        print(String(format: "adaptive ahead of both fixed plans in %.1f%% of scenarios", report.adaptiveAheadOfFixed * 100))
        print("worst (adaptive / oracle): " + report.worst.map { $0.name ?? "" }.joined(separator: ", "))
        if !report.blocked.isEmpty { print("adaptive blocked in: " + report.blocked.map { $0.name ?? "" }.joined(separator: ", ")) }
        if !report.expired.isEmpty { print("adaptive let mail expire in: " + report.expired.map { $0.name ?? "" }.joined(separator: ", ")) }
        if let lines = report.byWording {
            print("adaptive by wording  scenarios  p5     median  with blocks  blocks")
            for line in lines {
                print(line.wording.padding(toLength: 20, withPad: " ", startingAt: 0)
                    + String(format: " %9d  %.3f  %.3f   %11d  %6d", line.scenarios, line.ratioToOracle.p5, line.ratioToOracle.median, line.withBlocks, line.blocks))
            }
        }
        if let out { print("wrote in \(out): " + written.joined(separator: ", ") + " (replay a scenario with --scenario)") }
    }
}

struct SimulationOutput: Encodable {
    var scenario: String
    var days: Int
    var strategies: [StrategySummary]
}
