import KilnConfiguration
import KilnCore

/// The range of every number a scenario may hold; `Scenario.validate()` reports a value
/// outside it with its JSON path, so that the simulator never converts a huge or tiny
/// number into an integer that does not fit.
///
/// | key | range |
/// |---|---|
/// | `days` | 1 to 3,650 |
/// | `demand.messagesPerDay`, `events[].messagesPerDay` | 0 to 1,000,000,000 |
/// | `demand.hourlyProfile` weights, `mix` and `events[].mix` shares | 0 to 1,000,000,000 |
/// | `demand.weekendFactor` | 0 to 100 |
/// | `demand.growthPerDay` | -1 to 1 |
/// | `list.hardBounceRate`, `list.complaintRate` | 0 to 1 |
/// | `pool.initialIPs`, `minIPs`, `maxIPs` | 1 to 250 |
/// | `pool.sharedDailyLimit` | 0 to 1,000,000,000 |
/// | `maxMessageAgeHours` | 0.001 to 8,760 |
/// | `events[].day` | 0 to `days` - 1; `events[].days` 1 to 3,650 |
/// | `providers.<id>.coldHourly`, `warmHourly` | 0.01 to 1,000,000,000 |
/// | `providers.<id>.tolerance` | 0 to 10 |
/// | `providers.<id>.blockFactor` | 1 to 1,000 |
/// | `providers.<id>.blockHours` | 0 to 8,760 |
/// | `providers.<id>.blockPenalty`, `growthPerDay`, `throttlePenalty`, `idleDecayPerDay`, `idleThreshold`, `initialReputation` | 0 to 1 |
/// | `providers.<id>.complaintSensitivity`, `bounceSensitivity` | 0 to 1,000,000 |
enum ScenarioLimits {
    static let volume: ClosedRange<Double> = 0...1_000_000_000
    static let ips = 1...250
    static let days = 1...3_650
}

extension Scenario {
    func numericProblems() -> [ConfigurationProblem] {
        var problems: [ConfigurationProblem] = []
        func check(_ value: Double?, _ range: ClosedRange<Double>, _ path: String) {
            guard let value, !(value.isFinite && range.contains(value)) else { return }
            problems.append(ConfigurationProblem(path: path, message: "\(value) is out of range: must be a number from \(range.lowerBound) to \(range.upperBound)"))
        }
        func check(_ value: Int?, _ range: ClosedRange<Int>, _ path: String) {
            guard let value, !range.contains(value) else { return }
            problems.append(ConfigurationProblem(path: path, message: "\(value) is out of range: must be an integer from \(range.lowerBound) to \(range.upperBound)"))
        }
        func check(mix: [String: Double]?, _ path: String) {
            for (id, share) in (mix ?? [:]).sorted(by: { $0.key < $1.key }) { check(share, ScenarioLimits.volume, "\(path).\(id)") }
        }
        check(demand.messagesPerDay, ScenarioLimits.volume, "demand.messagesPerDay")
        if case .weights(let weights) = demand.hourlyProfile {
            for (hour, weight) in weights.prefix(24).enumerated() { check(weight, ScenarioLimits.volume, "demand.hourlyProfile[\(hour)]") }
        }
        check(demand.weekendFactor, 0...100, "demand.weekendFactor")
        check(demand.growthPerDay, -1...1, "demand.growthPerDay")
        check(mix: mix, "mix")
        check(list?.hardBounceRate, 0...1, "list.hardBounceRate")
        check(list?.complaintRate, 0...1, "list.complaintRate")
        check(pool.initialIPs, ScenarioLimits.ips, "pool.initialIPs")
        check(pool.minIPs, ScenarioLimits.ips, "pool.minIPs")
        check(pool.sharedDailyLimit, 0...1_000_000_000, "pool.sharedDailyLimit")
        check(maxMessageAgeHours, ConfigurationLimits.maxMessageAgeHours, "maxMessageAgeHours")
        for (index, event) in (events ?? []).enumerated() {
            check(event.days, ScenarioLimits.days, "events[\(index)].days")
            check(event.messagesPerDay, ScenarioLimits.volume, "events[\(index)].messagesPerDay")
            check(mix: event.mix, "events[\(index)].mix")
        }
        for (name, model) in (providers ?? [:]).sorted(by: { $0.key < $1.key }) {
            let path = "providers.\(name)"
            check(model.coldHourly, ConfigurationLimits.hourly, "\(path).coldHourly")
            check(model.warmHourly, ConfigurationLimits.hourly, "\(path).warmHourly")
            check(model.tolerance, 0...10, "\(path).tolerance")
            check(model.blockFactor, 1...1_000, "\(path).blockFactor")
            check(model.blockHours, 0...8_760, "\(path).blockHours")
            for (key, value) in [("blockPenalty", model.blockPenalty), ("growthPerDay", model.growthPerDay), ("throttlePenalty", model.throttlePenalty),
                                 ("idleDecayPerDay", model.idleDecayPerDay), ("idleThreshold", model.idleThreshold)] {
                check(value, 0...1, "\(path).\(key)")
            }
            check(model.complaintSensitivity, 0...1_000_000, "\(path).complaintSensitivity")
            check(model.bounceSensitivity, 0...1_000_000, "\(path).bounceSensitivity")
        }
        return problems
    }
}
