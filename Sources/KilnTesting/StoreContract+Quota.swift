import KilnCore
import KilnStore

extension StoreContract {
    /// Cluster-wide limits (`MessageStore.takeQuota`): slices never add up past the
    /// limit, a slice not renewed gives its unused part back after its lease, a run that
    /// does not know what it used counts all it was granted, and windows are apart.
    static func quotaSlices(_ c: Context) async throws {
        let store = try await c.open()
        let t0 = c.t0
        let lease = Duration.seconds(60)
        let day = "2027-01-15"
        func take(_ node: String, used: Int?, want: Int, at now: Timestamp = t0, window: String = day) async throws -> QuotaSlice {
            try await store.takeQuota("relay", window: window, node: node, used: used, want: want, limit: 100, now: now, until: now + lease)
        }
        let a = try await take("a", used: nil, want: 40)
        c.expect(a.granted == 40 && a.used == 0, "a's first slice should be 40 granted, 0 used: \(a)")
        let b = try await take("b", used: nil, want: 80)
        c.expect(b.granted == 60, "b should get the 60 that a's live slice leaves: \(b)")
        // a used 30 of its 40 and asks for 40 more: b's 60 and its own 30 leave 10.
        let a2 = try await take("a", used: 30, want: 40)
        c.expect(a2.granted == 40 && a2.used == 30, "a should be granted 40 (30 used + the 10 left): \(a2)")
        // b stops renewing: once its lease is over, its unused 60 are free again.
        let later = t0 + lease + .seconds(1)
        let a3 = try await take("a", used: 35, want: 100, at: later)
        c.expect(a3.granted == 100 && a3.used == 35, "a should get all but its own 35 once b's slice lapsed: \(a3)")
        // A run that does not know what its predecessor spent counts all it was granted.
        let a4 = try await take("a", used: nil, want: 10, at: later)
        c.expect(a4.used == 100 && a4.remaining == 0, "a restarted run should count a's whole grant as used: \(a4)")
        let slices = try await store.quotaSlices("relay", window: day)
        c.expect(slices.map(\.node) == ["a", "b"], "the window's slices should be a's and b's: \(slices)")
        c.expect(slices.reduce(0) { $0 + $1.held(at: later) } <= 100, "the slices hold more than the limit: \(slices)")
        // The next day is another window with the whole limit.
        let next = try await take("b", used: nil, want: 70, at: later, window: "2027-01-16")
        c.expect(next.granted == 70, "a new window should have the whole limit: \(next)")
    }
}
