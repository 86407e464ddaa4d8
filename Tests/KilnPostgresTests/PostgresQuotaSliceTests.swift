import Foundation
import KilnPostgres
import KilnStore
import KilnTesting
import Testing

/// Cluster-wide limits in the PostgreSQL store (the same contract as SQLite's).
@Suite(.enabled(if: PostgresTestServer.enabled, "set KILN_TEST_POSTGRES_URL (make test does)"))
struct PostgresQuotaSliceTests {
    @Test func slicesOfALimitNeverAddUpPastItAndALapsedOneGivesItsRestBack() async throws {
        let db = try await PostgresTestServer.freshDatabase()
        let problems = try await StoreContract.quotaSlices(db.store())
        #expect(problems == [])
        await db.drop()
    }
}
