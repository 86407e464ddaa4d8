import Kiln
import KilnTesting
import Testing

/// A pause through the engine reaches its running delivery at once: the run does not
/// wait for its next read of the store's pauses (on a clock that stands still, that read
/// would never come).
@Suite struct PauseWakeTests {
    @Test(.timeLimit(.minutes(1))) func aPauseThroughTheEngineReachesAWaitingRunAtOnce() async throws {
        let clock = ManualClock()
        let engine = try TransactionalPriorityTests().engine(network: FakeNetwork(), clock: clock, gmailColdHourly: 20)
        let run = Task { try await engine.run() }
        // Nothing to send: the delivery loop waits (its idle wait is at most 500 ms; the
        // run's other timers are longer).
        _ = await clock.nextSleep { $0 <= .milliseconds(500) }
        #expect(engine.readiness().ready)
        try await engine.pause()
        // The run reads the pause and waits as a paused run does: no clock moved for it.
        _ = await clock.nextSleep { _ in engine.readiness().reason == "paused" }
        engine.stop()
        try await run.value
    }
}
