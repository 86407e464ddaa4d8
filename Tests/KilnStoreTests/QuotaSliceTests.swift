import Foundation
import KilnCore
import KilnStore
import KilnTesting
import Testing

/// Cluster-wide limits in the SQLite store (the same contract as PostgreSQL's).
@Suite struct QuotaSliceTests {
    @Test func slicesOfALimitNeverAddUpPastItAndALapsedOneGivesItsRestBack() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-quota-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let problems = try await StoreContract.quotaSlices(try SQLiteStore(path: directory + "/kiln.sqlite"))
        #expect(problems == [])
    }

    @Test func theWindowOfADailyLimitIsTheUTCDay() {
        #expect(QuotaSlice.day(of: Timestamp(nanoseconds: 0)) == "1970-01-01")
        #expect(QuotaSlice.day(of: Timestamp(nanoseconds: 1_800_000_000_000_000_000)) == "2027-01-15")
        #expect(QuotaSlice.day(of: Timestamp(nanoseconds: 1_800_000_000_000_000_000 - 28_800_000_000_001)) == "2027-01-14")
    }
}
