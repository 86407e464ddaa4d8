@testable import Kiln
import Testing

/// The delivery loop's wait after an empty lease: longer each time, never past the next
/// token, and ended at once by a poke (a submission, a stop, recorded results).
@Suite struct IdleWaitTests {
    @Test func theWaitDoublesUpToItsLongestAndNeverPassesTheNextToken() {
        var wait = Duration.zero
        var seen: [Duration] = []
        for _ in 0..<7 {
            wait = DeliverySession.idleWait(after: wait, nextToken: nil)
            seen.append(wait)
        }
        #expect(seen == [20, 40, 80, 160, 320, 500, 500].map { .milliseconds($0) })
        #expect(DeliverySession.idleWait(after: .milliseconds(320), nextToken: .milliseconds(30)) == .milliseconds(30))
        // A token already due: the loop leases again almost at once.
        #expect(DeliverySession.idleWait(after: .milliseconds(320), nextToken: .milliseconds(-5)) == .milliseconds(1))
    }

    @Test func aPokeEndsTheWaitAndIsKeptWhenNobodyWaits() async {
        let wakeup = Wakeup()
        // Kept for the next wait, which then ends at once (an hour's timeout never runs out).
        wakeup.poke()
        #expect(await wakeup.wait(upTo: .seconds(3600)) == true)
        // Without a poke, the timeout ends it.
        #expect(await wakeup.wait(upTo: .milliseconds(10)) == false)
        // A poke while it waits (or just before it starts to) ends it.
        async let poked = wakeup.wait(upTo: .seconds(3600))
        wakeup.poke()
        #expect(await poked == true)
    }
}
