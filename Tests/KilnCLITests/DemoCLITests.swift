import Foundation
import Testing

/// `kiln demo` tells the whole story: the cold pool's excess spills to the shared relay,
/// a throttle rests an IP, greylisted mail is retried and taken, unknown users bounce, and
/// nothing is left deferred.
@Suite struct DemoCLITests {
    @Test func theDemoShowsSpillOverAThrottleAGreylistingRetryAndEndsWithNothingDeferred() async throws {
        let run = try await kiln(["demo", "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let report = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any] ?? [:]
        let rows = Dictionary(uniqueKeysWithValues: (report["providers"] as? [[String: Any]] ?? []).map { ($0["provider"] as? String ?? "", $0) })
        func value(_ provider: String, _ key: String) -> Int { rows[provider]?[key] as? Int ?? -1 }
        #expect(((rows["apple"]?["viaIP"] as? [String: Int])?["shared"] ?? 0) > 0, "apple's excess spills: \(run.stdout)")
        #expect(value("yahoo", "throttleReplies") > 0)
        #expect(value("other", "retried") > 0)
        #expect(rows.values.allSatisfy { ($0["deferred"] as? Int) == 0 })
        #expect(rows.values.reduce(0) { $0 + (($1["bounced"] as? Int) ?? 0) } > 0)
        #expect((report["submitted"] as? Int) == 3_000)
    }
}
