/// The one clock the engine reads and waits on: the wall time for timestamps, a reading
/// that only moves forward for intervals and deadlines, and sleeps measured on that
/// reading. The core never reads it (every decision takes `now:`); the engine holds one
/// and passes its readings down. `SystemClock` (Kiln) reads the machine's clocks;
/// `ManualClock` (KilnTesting) moves only when a test moves it, and wakes the sleepers it
/// passes.
public protocol EngineClock: Sendable {
    /// The wall time, for what is stored and reported.
    func now() -> Timestamp
    /// Time since an arbitrary origin that never goes back (a step of the wall clock
    /// does not move it), for intervals: heartbeats, lease deadlines, checks due.
    func uptime() -> Duration
    /// Suspends for `duration` of this clock's time; throws `CancellationError` when the
    /// task is cancelled.
    func sleep(for duration: Duration) async throws
}
