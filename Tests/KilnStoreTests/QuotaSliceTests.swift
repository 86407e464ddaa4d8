import KilnCore
import KilnStore
import Testing

/// The windows of cluster-wide limits (the slices themselves are in the store contract).
@Suite struct QuotaSliceTests {
    @Test func theWindowOfADailyLimitIsTheUTCDay() {
        #expect(QuotaSlice.day(of: Timestamp(nanoseconds: 0)) == "1970-01-01")
        #expect(QuotaSlice.day(of: Timestamp(nanoseconds: 1_800_000_000_000_000_000)) == "2027-01-15")
        #expect(QuotaSlice.day(of: Timestamp(nanoseconds: 1_800_000_000_000_000_000 - 28_800_000_000_001)) == "2027-01-14")
    }
}
