import Foundation
import Testing

/// `kiln simulate --out DIR` names exactly the files it wrote: each one it names exists, and
/// it wrote none it does not name. A random family gets its chart, family.svg.
@Suite struct SimulateOutputCLITests {
    static let scenarios = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Scenarios").path

    /// The files named by the `wrote in DIR: a, b (...)` line of `stdout`.
    static func named(in stdout: String, directory: String) -> [String]? {
        guard let line = stdout.split(separator: "\n").last(where: { $0.hasPrefix("wrote in \(directory): ") }) else { return nil }
        let list = line.dropFirst("wrote in \(directory): ".count).split(separator: " (").first ?? ""
        return list.split(separator: ", ").map(String.init)
    }

    static func temporaryDirectory() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("kiln-simulate-\(UUID().uuidString)").path
    }

    @Test func aRandomFamilyWritesItsChartAndNamesEveryFileItWrote() async throws {
        let out = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: out) }
        let result = try await kiln(["simulate", "--random", "3", "--seed", "5", "--days", "2", "--max-demand", "20000", "--workers", "1", "--out", out])
        #expect(result.status == 0, "\(result.stderr)")
        let named = try #require(Self.named(in: result.stdout, directory: out), "\(result.stdout)")
        let present = try FileManager.default.contentsOfDirectory(atPath: out)
        #expect(Set(named) == Set(present), "named \(named), present \(present)")
        #expect(named.count == Set(named).count)
        #expect(named.contains("family.svg") && named.contains("family.json"))
        #expect(named.filter { $0.hasPrefix("worst-") }.count == 3)
        let svg = try String(contentsOfFile: out + "/family.svg", encoding: .utf8)
        #expect(svg.hasPrefix("<svg") && svg.contains("id=\"family-histogram\""))
    }

    @Test func aScenarioNamesItsChartAndEachStrategysDays() async throws {
        let out = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: out) }
        let result = try await kiln(["simulate", "--scenario", Self.scenarios + "/baseline.json", "--days", "1", "--strategy", "all", "--out", out])
        #expect(result.status == 0, "\(result.stderr)")
        let named = try #require(Self.named(in: result.stdout, directory: out), "\(result.stdout)")
        #expect(Set(named) == Set(try FileManager.default.contentsOfDirectory(atPath: out)))
        #expect(Set(named) == ["charts.svg", "days-adaptive.csv", "days-fixed-ses45.csv", "days-fixed-stages30.csv", "days-none.csv", "days-oracle.csv"])
    }
}
