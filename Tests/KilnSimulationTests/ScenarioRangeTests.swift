import Foundation
import KilnCore
import KilnSimulation
import Testing

/// Every number of a scenario file fed extreme values: an error naming its JSON path,
/// never a trap in the simulator.
@Suite struct ScenarioRangeTests {
    static func scenario(_ replacements: [String: String]) -> String {
        var fields = [
            "seed": "1", "days": "3", "messagesPerDay": "100", "weekendFactor": "1", "growthPerDay": "0", "share": "1", "hardBounceRate": "0.01",
            "initialIPs": "1", "maxIPs": "2", "sharedDailyLimit": "100", "maxMessageAgeHours": "72", "blockHours": "24", "coldHourly": "20", "tolerance": "0.1",
            "eventDay": "1", "eventDays": "1",
        ]
        fields.merge(replacements) { $1 }
        return """
            {"seed": \(fields["seed"]!), "days": \(fields["days"]!),
             "demand": {"messagesPerDay": \(fields["messagesPerDay"]!), "weekendFactor": \(fields["weekendFactor"]!), "growthPerDay": \(fields["growthPerDay"]!)},
             "mix": {"gmail": \(fields["share"]!)}, "list": {"hardBounceRate": \(fields["hardBounceRate"]!)},
             "pool": {"initialIPs": \(fields["initialIPs"]!), "maxIPs": \(fields["maxIPs"]!), "sharedDailyLimit": \(fields["sharedDailyLimit"]!)},
             "maxMessageAgeHours": \(fields["maxMessageAgeHours"]!),
             "providers": {"gmail": {"blockHours": \(fields["blockHours"]!), "coldHourly": \(fields["coldHourly"]!), "tolerance": \(fields["tolerance"]!)}},
             "events": [{"type": "pause", "provider": "gmail", "day": \(fields["eventDay"]!), "days": \(fields["eventDays"]!)}]}
            """
    }

    static let paths = [
        "seed": "seed", "days": "days", "messagesPerDay": "demand.messagesPerDay", "weekendFactor": "demand.weekendFactor",
        "growthPerDay": "demand.growthPerDay", "share": "mix.gmail", "hardBounceRate": "list.hardBounceRate", "initialIPs": "pool.initialIPs",
        "maxIPs": "pool.maxIPs", "sharedDailyLimit": "pool.sharedDailyLimit", "maxMessageAgeHours": "maxMessageAgeHours",
        "blockHours": "providers.gmail.blockHours", "coldHourly": "providers.gmail.coldHourly", "tolerance": "providers.gmail.tolerance",
        "eventDay": "events[0].day", "eventDays": "events[0].days",
    ]

    static var cases: [(String, String)] {
        paths.keys.sorted().flatMap { key in
            // A seed is any UInt64: 1e19 and 2^63 are valid seeds.
            (key == "seed" ? ["-1e300", "1e300", "1e400", "\"NaN\"", "18446744073709551616"] : ["-1e300", "1e300", "1e19", "9223372036854775808", "1e400", "\"NaN\""])
                .map { (key, $0) }
        } + [("days", "1.5"), ("initialIPs", "0.5"), ("eventDays", "1e20"), ("seed", "-1"), ("seed", "0.5")]
    }

    @Test func theBaseScenarioIsValid() throws {
        _ = try Scenario.load(json: Data(Self.scenario([:]).utf8), source: "s.json")
    }

    @Test(arguments: cases)
    func anExtremeValueIsNamed(key: String, value: String) {
        do {
            _ = try Scenario.load(json: Data(Self.scenario([key: value]).utf8), source: "s.json")
            Issue.record("\(key) = \(value) was accepted")
        } catch {
            #expect(error.code == .invalidConfiguration)
            #expect(error.message.contains(Self.paths[key]! + ":"), "\(key) = \(value): \(error.message)")
        }
    }
}
