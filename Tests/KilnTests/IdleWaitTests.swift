@testable import Kiln
import KilnTesting
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
        let clock = ManualClock()
        let wakeup = Wakeup(clock: clock)
        // Kept for the next wait, which then ends at once (an hour's timeout never runs out).
        wakeup.poke()
        #expect(await wakeup.wait(upTo: .seconds(3600)) == true)
        // Without a poke, the timeout on the clock ends it.
        async let timedOut = wakeup.wait(upTo: .milliseconds(10))
        #expect(await clock.nextSleep() == .milliseconds(10))
        clock.advance(by: .milliseconds(10))
        #expect(await timedOut == false)
        // A poke while it waits (or just before it starts to) ends it.
        async let poked = wakeup.wait(upTo: .seconds(3600))
        wakeup.poke()
        #expect(await poked == true)
    }

    /// A sleep on the manual clock ends when the clock is advanced past it, not before;
    /// a cancelled one ends at once.
    @Test func theManualClockWakesItsSleepersWhenAdvancedPastThem() async throws {
        let clock = ManualClock()
        let short = Task { try await clock.sleep(for: .seconds(5)) }
        let long = Task { try await clock.sleep(for: .seconds(60)) }
        _ = await clock.nextSleep { $0 == .seconds(60) }
        while clock.sleepers < 2 { await Task.yield() }
        clock.advance(by: .seconds(4))
        #expect(clock.sleepers == 2)
        clock.advance(by: .seconds(1))
        try await short.value
        #expect(clock.sleepers == 1)
        long.cancel()
        await #expect(throws: CancellationError.self) { try await long.value }
        #expect(clock.sleepers == 0)
        #expect(clock.uptime() == .seconds(5))
    }
}
