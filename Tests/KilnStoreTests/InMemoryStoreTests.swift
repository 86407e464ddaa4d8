import KilnCore
import KilnStore
import KilnTesting
import Testing

/// The store contract on the in-memory store: every check on a new store, every `open()`
/// the same one (its handles share one state).
@Suite struct InMemoryStoreContractTests {
    @Test(arguments: StoreContract.checks)
    func theInMemoryStoreKeepsTheContract(_ check: StoreContract.Check) async throws {
        let store = InMemoryStore()
        let problems = try await check.run { store }
        #expect(problems == [])
    }

    @Test func aSecondRunOfANodeIsRefusedUntilTheFirstEnds() async throws {
        let store = InMemoryStore()
        var claim: DeliveryClaim? = try await store.beginDelivery(node: "a", now: Timestamp(nanoseconds: 1))
        await #expect(throws: KilnError.self) { _ = try await store.beginDelivery(node: "a", now: Timestamp(nanoseconds: 2)) }
        let other = try await store.beginDelivery(node: "ab", now: Timestamp(nanoseconds: 2))
        withExtendedLifetime(claim) {}
        claim = nil
        let again = try await store.beginDelivery(node: "a", now: Timestamp(nanoseconds: 3))
        withExtendedLifetime((other, again)) {}
    }
}
