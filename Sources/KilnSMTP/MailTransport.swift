import KilnCore

/// What the engine needs of a transport: queue jobs, take back what waits on a lane,
/// collect results in batches, and shut down gracefully. `SMTPTransport` (libcurl) is the
/// real one; `KilnTesting.FakeTransport` answers from a script with no sockets, so that
/// engine tests drive delivery with a manual clock.
///
/// A transport classifies each reply once, where it arrives (`SMTPResult.classification`),
/// and applies `Dispatcher.withdrawsLane(after:)` to the lane the reply came on.
public protocol MailTransport: Sendable {
    /// Queues jobs; their results arrive through `takeResults()`.
    func send(_ jobs: [SMTPJob])
    /// Yields whenever results are waiting in `takeResults()`; ends after shutdown.
    var resultsReady: AsyncStream<Void> { get }
    /// Takes the results that finished since the last call.
    func takeResults() -> [SMTPResult]
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
