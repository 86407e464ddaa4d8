import ArgumentParser
import Foundation
import KilnCore
import KilnSimulation

struct Simulate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the engine's warm-up against simulated mailbox providers over days of virtual time.")
    @Option(help: "The scenario file (JSON); see Scenarios/.") var scenario: String
    @Option(help: "adaptive, fixed:ses45, fixed:stages30, none, oracle, or all.") var strategy = "adaptive"
    @Option(help: "Simulate this many days instead of the scenario's.") var days: Int?
    @Option(help: "Write days.csv per strategy and charts.svg here.") var out: String?
    @OptionGroup var output: OutputOptions

    func validate() throws {
        if strategy != "all" && SimulationStrategy(strategy) == nil {
            throw ValidationError("--strategy must be adaptive, fixed:ses45, fixed:stages30, none, oracle or all")
        }
        if let days, !(1...3_650).contains(days) { throw ValidationError("--days must be between 1 and 3650") }
    }

    func run() async throws {
        var loaded = try Scenario.load(path: scenario)
        if let days { loaded.days = days }
        let strategies = strategy == "all" ? SimulationStrategy.all : [SimulationStrategy(strategy)!]
        let simulator = Simulator(scenario: loaded)
        let results = await withTaskGroup(of: (Int, SimulationResult).self) { group in
            for (index, s) in strategies.enumerated() { group.addTask { (index, simulator.run(s)) } }
            var results: [(Int, SimulationResult)] = []
            for await result in group { results.append(result) }
            return results.sorted { $0.0 < $1.0 }.map(\.1)
        }
        if let out {
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            for result in results {
                let name = result.strategy.description.replacingOccurrences(of: ":", with: "-")
                try SimulationReport.csv(result).write(toFile: "\(out)/days-\(name).csv", atomically: true, encoding: .utf8)
            }
            try SimulationReport.svg(results, title: "\(loaded.name ?? scenario): \(loaded.days) days")
                .write(toFile: "\(out)/charts.svg", atomically: true, encoding: .utf8)
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
                + String(format: " %8.1f%%  %7.2f%%  %6d  %7d  %7d  %11.0f  ", r.dedicatedShare * 100, r.throttleRate * 100, r.blocks, r.expired,
                         r.ipDays, r.p95QueueHours) + full)
        }
        if let out { print("wrote \(out)/charts.svg and days-*.csv") }
    }
}

struct SimulationOutput: Encodable {
    var scenario: String
    var days: Int
    var strategies: [StrategySummary]
}
