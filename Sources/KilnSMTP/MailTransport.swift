import KilnCore

/// What the engine needs of a transport: queue jobs, collect results in batches, carry out
/// orders for lanes, and shut down gracefully. `SMTPTransport` (libcurl) is the real one;
/// `KilnTesting.FakeTransport` answers from a script with no sockets, so that engine tests
/// drive delivery with a manual clock.
///
/// A transport is mechanism only: it reports what happened (`SMTPResult`: the reply, the
/// curl result, the host) and reads no reply. As each reply arrives it calls the engine's
/// `ReplyObserver` (`SMTPTransport.Options.onReply`) and carries out the `LaneOrder`s it
/// returns for the reply's lane (source IP, host) before that lane starts another job:
/// withdraw (what waits comes back unsent), hold (what comes for a while comes back
/// unsent), cap its messages per connection. Before each job starts it asks the
/// `StartGate`.
public protocol MailTransport: Sendable {
    /// Queues jobs; their results arrive through `takeResults()`.
    func send(_ jobs: [SMTPJob])
    /// Yields whenever results are waiting in `takeResults()`; ends after shutdown.
    var resultsReady: AsyncStream<Void> { get }
    /// Takes the results that finished since the last call.
    func takeResults() -> [SMTPResult]
    /// Carries out orders for the lane `result` came on, given after the fact (a
    /// behavioural signal found when the result was recorded), on every transfer thread,
    /// before the lane starts another job.
    func obey(_ orders: [LaneOrder], laneOf result: SMTPResult)
    /// Jobs queued or being transferred, or finished and not yet taken.
    var inFlight: Int { get }
    /// The ids of those jobs: the engine checks its leases against them (a lease with no
    /// job behind it is given back).
    var heldJobs: Set<MessageID> { get }
    /// Stops taking new jobs, lets the running ones finish, returns the jobs never
    /// started with a nil reply, and ends `resultsReady`. When the calling task is
    /// cancelled, the running ones are cut off and come back with a nil reply too.
    func shutdownGracefully() async
}

extension SMTPTransport: MailTransport {}

/// Called by a transport, on its own thread, with each result that has a reply, as the
/// reply arrives and before its lane (source IP, host) starts another job; returns the
/// orders for that lane. The engine reads the reply there (the Dispatcher's `ReplyReader`)
/// and answers with the reading's orders.
public typealias ReplyObserver = @Sendable (SMTPResult) -> [LaneOrder]
