import KilnCore
import KilnStore
import Synchronization

/// One run of a campaign: its list is read into the queue while the engine delivers, then
/// the engine delivers at the warm-up's pace until every message of the campaign is final,
/// or, detached, stops once the list is queued and leaves the rest to a running engine. A
/// pause of the campaign's sending (its configuration set, or the whole store) stops the
/// run; `interrupt()` stops it gracefully. Run it again on the same record to resume.
///
/// | how the run ends | outcome |
/// |---|---|
/// | every message of the campaign final | `finished` |
/// | detached: the list queued whole, messages not yet final | `queued` |
/// | its sending paused | `stopped(paused: true)` |
/// | interrupted, or the list not read whole | `stopped(paused: false)` |
public final class CampaignSession: Sendable {
    public enum Outcome: Sendable, Hashable {
        case finished
        case queued
        case stopped(paused: Bool)
    }

    public let engine: SendEngine
    public let runner: CampaignRunner
    /// Leave what is not due yet to a running engine instead of waiting for it.
    public let detach: Bool
    private let interrupted = Atomic(false)

    public init(engine: SendEngine, runner: CampaignRunner? = nil, detach: Bool = false) {
        self.engine = engine
        self.runner = runner ?? CampaignRunner(engine: engine)
        self.detach = detach
    }

    /// Stops the run gracefully (SIGINT, SIGTERM): the list is read no further, and the
    /// engine stops once its transfers in flight have ended.
    public func interrupt() {
        interrupted.store(true, ordering: .relaxed)
        engine.stop()
    }

    /// Runs `record` until it ends; returns its report and how it ended. The events still
    /// in the outbox go to their destinations before it returns (30 s at most).
    /// - Parameters:
    ///   - interval: how often `progress` is called.
    ///   - progress: the campaign's report with its pace, or why there is none now.
    ///   - rejected: each row of the list skipped, with its line and why.
    public func run(_ record: CampaignRecord, progressEvery interval: Duration,
                    progress: @escaping @Sendable (Result<CampaignReport, KilnError>) -> Void,
                    rejected: (_ line: Int, _ reason: String) -> Void) async throws -> (report: CampaignReport, outcome: Outcome) {
        var pausedStop = false
        var ingested = record
        try await withThrowingTaskGroup(of: Void.self) { helpers in
            helpers.addTask { [runner, clock = engine.clock] in
                while !Task.isCancelled {
                    do throws(KilnError) {
                        progress(.success(try await runner.report(record.id, pace: true, reasons: false)))
                    } catch {
                        progress(.failure(error))
                    }
                    try await clock.sleep(for: interval)
                }
            }
            // Deliver while the list streams in.
            async let delivery: Void = engine.run()
            do {
                ingested = try await runner.ingest(record, rejected: rejected, shouldStop: { interrupted.load(ordering: .relaxed) })
            } catch {
                engine.stop()
                _ = try? await delivery
                throw error
            }
            // Deliver at the warm-up's pace until every message of the campaign is final;
            // a pause of its sending stops the run (resume it later).
            if !detach {
                while !interrupted.load(ordering: .relaxed) {
                    let report = try await runner.report(record.id, reasons: false)
                    if report.isFinished || !report.ingestComplete { break }
                    let paused = try await engine.pausedScopes()
                    if paused.contains("*") || paused.contains(record.configurationSet) {
                        pausedStop = true
                        break
                    }
                    try await engine.clock.sleep(for: .milliseconds(500))
                }
            }
            engine.stop()
            try await delivery
            try await engine.deliverEventsBeforeExit()
            helpers.cancelAll()
        }
        engine.closeEvents()
        let report = try await runner.report(record.id)
        let stopped = interrupted.load(ordering: .relaxed)
        if detach, !stopped, ingested.ingestComplete, !report.isFinished { return (report, .queued) }
        if stopped || !report.isFinished || !ingested.ingestComplete { return (report, .stopped(paused: pausedStop)) }
        return (report, .finished)
    }
}
