import ArgumentParser
import UnixSignals
import Foundation
import Kiln
import KilnCore
import KilnStore
import Synchronization

struct Campaign: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Batch campaigns: a recipient CSV and a template, run to completion, resumable.",
        subcommands: [RunCampaign.self, ResumeCampaign.self, CampaignStatus.self, CampaignReportCommand.self])
}

struct RunCampaign: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Queue every recipient of the CSV with the template and deliver until every message is final.",
        discussion: """
            The run delivers at the warm-up's pace, as `kiln run` does, however long that takes on a cold pool; \
            progress goes to standard error, the report to standard output. With --detach it stops once the list is \
            queued and leaves the rest to a running `kiln run`. Exit status: 0 when every accepted message is \
            delivered, bounced or expired (or, with --detach, queued); 4 when it finished but some recipients failed \
            (a rendering failure); 3 when the run was interrupted or sending is paused (finish it with \
            `kiln campaign resume`); 2 for invalid input.
            """)
    @OptionGroup var options: ConfigOption
    @Option(help: "The recipients CSV (a header row with an 'email' column; other columns are template variables).") var recipients: String
    @Option(help: "The template file (JSON).") var template: String
    @Option(help: "The campaign id (also the Feedback-ID campaign field unless the template's tags say otherwise).") var campaign: String
    @Option(name: .customLong("config-set"), help: "The configuration set (default: the template's, else the configuration's default).") var configSet: String?
    @Flag(help: "Stop once the list is queued: a running `kiln run` delivers the rest.") var detach = false
    @OptionGroup var nodeOption: NodeOption
    @OptionGroup var output: OutputOptions

    func run() async throws {
        let engine = try openEngine(options, secrets: .delivery, sendsFromPools: true, node: nodeOption.node)
        let (message, templateSet) = try CampaignTemplateFile.load(path: template)
        if try await engine.store.campaign(id: campaign) != nil {
            throw KilnError(.invalidInput, "campaign '\(campaign)' already exists in this store; use `kiln campaign resume \(campaign)`", location: "--campaign")
        }
        let runner = CampaignRunner(engine: engine)
        let record = try await runner.create(id: campaign, recipientsFile: recipients, template: message, configurationSet: configSet ?? templateSet)
        try await CampaignSession(engine: engine, runner: runner, config: options.config, json: output.json, detach: detach).run(record)
    }
}

struct ResumeCampaign: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume",
        abstract: "Finish a campaign that was interrupted: read the rest of its list, deliver what is not final.")
    @Argument(help: "The campaign id.") var id: String
    @OptionGroup var options: ConfigOption
    @Flag(help: "Stop once the list is queued: a running `kiln run` delivers the rest.") var detach = false
    @OptionGroup var nodeOption: NodeOption
    @OptionGroup var output: OutputOptions

    func run() async throws {
        let engine = try openEngine(options, secrets: .delivery, sendsFromPools: true, node: nodeOption.node)
        guard let record = try await engine.store.campaign(id: id) else { throw KilnError(.invalidInput, "no campaign '\(id)' in this store", location: id) }
        try await CampaignSession(engine: engine, runner: CampaignRunner(engine: engine), config: options.config, json: output.json, detach: detach).run(record)
    }
}

struct CampaignStatus: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Where a campaign stands.")
    @Argument(help: "The campaign id.") var id: String
    @OptionGroup var options: ConfigOption
    @OptionGroup var output: OutputOptions

    func run() async throws {
        let report = try await campaignReport(id, config: options.config)
        if output.json { printJSON(report); return }
        let done = report.delivered + report.bounced + report.expired + report.failed
        print("campaign \(id): \(report.ingestComplete ? "list read" : "list partly read") (\(report.recipients) rows), "
              + "\(done) of \(report.accepted) final, \(report.deferred) deferred, \(report.pending) pending")
    }
}

struct CampaignReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "report", abstract: "A campaign's report, with a table per provider.")
    @Argument(help: "The campaign id.") var id: String
    @OptionGroup var options: ConfigOption
    @OptionGroup var output: OutputOptions

    func run() async throws {
        let report = try await campaignReport(id, config: options.config)
        if output.json { printJSON(report) } else { printReport(report) }
    }
}

/// The report of campaign `id` in the store of configuration `config`; an id the store
/// does not have is invalid input (exit 2).
func campaignReport(_ id: String, config: String) async throws -> CampaignReport {
    let engine = try SendEngine(configurationFile: config, logger: makeLogger())
    guard try await engine.store.campaign(id: id) != nil else { throw KilnError(.invalidInput, "no campaign '\(id)' in this store", location: id) }
    return try await CampaignRunner(engine: engine).report(id)
}

func printReport(_ r: CampaignReport) {
    print("campaign \(r.campaign)")
    print("  recipients (rows) \(r.recipients)   rejected rows \(r.rejectedRows)   duplicates \(r.duplicates)   suppressed \(r.suppressed)")
    print("  accepted \(r.accepted)   delivered \(r.delivered)   bounced \(r.bounced)   deferred \(r.deferred) (after a failure: \(r.transientFailures))")
    print("  expired \(r.expired)   failed \(r.failed)   pending \(r.pending)   spilled to shared \(r.spilled)   complaints \(r.complaints)")
    print("  provider      accepted  delivered  bounced  deferred  expired  failed  pending")
    for (provider, c) in r.byProvider.sorted(by: { $0.key < $1.key }) {
        print("  " + [provider.padding(toLength: 12, withPad: " ", startingAt: 0), String(c.accepted), String(c.delivered), String(c.bounced),
                      String(c.deferred), String(c.expired), String(c.failed), String(c.queued)]
            .enumerated().map { $0.offset == 0 ? $0.element : String(repeating: " ", count: max(1, 9 - $0.element.count)) + $0.element }.joined())
    }
}

/// One run of a campaign: ingest while delivering, then deliver until idle; Ctrl-C stops
/// gracefully and says how to resume.
struct CampaignSession {
    let engine: SendEngine
    let runner: CampaignRunner
    let config: String
    let json: Bool
    /// Leave what is not due yet to a running `kiln run` instead of waiting for it.
    var detach = false

    /// The exit status of a finished campaign some of whose recipients failed.
    static let someFailed: Int32 = 4

    func run(_ record: CampaignRecord) async throws {
        let interrupted = Interruption()
        var pausedStop = false
        let progress = Progress(json: json)
        let started = ContinuousClock.now
        let events = engine.events()
        var ingested = record
        try await withThrowingTaskGroup(of: Void.self) { helpers in
            // SIGINT and SIGTERM stop gracefully, through ServiceLifecycle's signal
            // sequence, as for `kiln run`.
            helpers.addTask { [engine] in
                for await _ in await UnixSignalsSequence(trapping: .sigint, .sigterm) {
                    interrupted.flag.store(true, ordering: .relaxed)
                    engine.stop()
                }
            }
            helpers.addTask {
                var counts: [String: [String: Int]] = [:]
                for await event in events {
                    counts[event.provider?.id ?? "?", default: [:]][event.kind.rawValue, default: 0] += 1
                    progress.update(counts, started: started, accepted: nil)
                }
            }
            // Deliver while the list streams in.
            async let delivery: Void = engine.run()
            do {
                ingested = try await runner.ingest(record, rejected: { line, reason in
                    FileHandle.standardError.write(Data("kiln: \(record.recipientsFile):\(line): skipped: \(reason)\n".utf8))
                }, shouldStop: { interrupted.flag.load(ordering: .relaxed) }, progress: { rows in progress.rows(rows) })
            } catch {
                engine.stop()
                _ = try? await delivery
                throw error
            }
            // Deliver at the warm-up's pace, as `kiln run` does, until every message of the
            // campaign is final; a pause of its sending stops the run (resume it later).
            if !detach {
                while !interrupted.flag.load(ordering: .relaxed) {
                    let report = try await runner.report(record.id)
                    if report.isFinished || !report.ingestComplete { break }
                    let paused = try await engine.store.pausedScopes()
                    if paused.contains("*") || paused.contains(record.configurationSet) {
                        pausedStop = true
                        break
                    }
                    progress.waiting(report, started: started)
                    try await Task.sleep(for: .seconds(1))
                }
            }
            engine.stop()
            try await delivery
            try await engine.deliverEventsBeforeExit(logger: makeLogger())
            engine.closeEvents()
            helpers.cancelAll()
        }
        progress.finish()

        let report = try await runner.report(record.id)
        if json { printJSON(report) } else { printReport(report) }
        if detach, !interrupted.flag.load(ordering: .relaxed), ingested.ingestComplete, !report.isFinished {
            FileHandle.standardError.write(Data("kiln: campaign \(record.id) queued whole; a running `kiln run --config \(config)` delivers the rest at the warm-up's pace (kiln campaign status \(record.id))\n".utf8))
            return
        }
        if interrupted.flag.load(ordering: .relaxed) || !report.isFinished || !ingested.ingestComplete {
            let why = pausedStop ? " (sending is paused: kiln resume)" : ""
            FileHandle.standardError.write(Data("kiln: campaign \(record.id) stopped\(why); finish it with: kiln campaign resume \(record.id) --config \(config)\n".utf8))
            throw ExitCode(3)
        }
        if report.failed > 0 {
            // Recipients that could not be sent at all (a rendering failure): not a success.
            FileHandle.standardError.write(Data("kiln: \(report.failed) of \(report.accepted) recipients of campaign \(record.id) failed and were not sent (their renderingFailure events say why)\n".utf8))
            throw ExitCode(Self.someFailed)
        }
    }
}

/// Set once SIGINT or SIGTERM arrived.
final class Interruption: Sendable {
    let flag = Atomic(false)
}

/// Progress on a terminal (a line redrawn in place) or as plain lines every few seconds.
final class Progress: @unchecked Sendable {
    let json: Bool
    /// Progress goes to standard error (the report to standard output).
    let terminal = isatty(2) == 1
    let lock = NSLock()
    var lastPrint = ContinuousClock.now - .seconds(60)
    var rowsRead = 0

    init(json: Bool) { self.json = json }

    func rows(_ count: Int) { lock.withLock { rowsRead = count } }

    /// Runs `body` with the seconds since `started` when a line is due (one every
    /// `terminalEvery` on a terminal, every `plainEvery` otherwise), under the lock.
    func ifDue(terminalEvery: Duration, plainEvery: Duration, started: ContinuousClock.Instant, _ body: (Double) -> String) {
        guard !json else { return }
        lock.lock()
        defer { lock.unlock() }
        let now = ContinuousClock.now
        guard now - lastPrint > (terminal ? terminalEvery : plainEvery) else { return }
        lastPrint = now
        let elapsed = max(0.001, Double((now - started).components.seconds) + Double((now - started).components.attoseconds) / 1e18)
        let line = body(elapsed)
        FileHandle.standardError.write(Data(((terminal ? "\r\u{1B}[K" : "") + line + (terminal ? "" : "\n")).utf8))
    }

    func update(_ counts: [String: [String: Int]], started: ContinuousClock.Instant, accepted: Int?) {
        ifDue(terminalEvery: .milliseconds(250), plainEvery: .seconds(5), started: started) { elapsed in
            let total = { (kind: String) in counts.values.reduce(0) { $0 + ($1[kind] ?? 0) } }
            let done = total("delivery") + total("bounce") + total("expired")
            let rate = Double(done) / elapsed
            let queued = max(total("accepted"), rowsRead)
            let eta = rate > 0 && queued > done ? String(format: "ETA %.0fs", Double(queued - done) / rate) : ""
            let providers = counts.filter { $0.key != "?" }.sorted { $0.key < $1.key }
                .map { "\($0.key) \($0.value["delivery"] ?? 0)" }.joined(separator: " ")
            return String(format: "%d rows read, %d delivered, %d bounced, %.0f msg/s %@  [%@]", rowsRead, total("delivery"), total("bounce"), rate, eta, providers)
        }
    }

    /// While the run waits for paced and deferred mail: what is left, to standard error.
    func waiting(_ report: CampaignReport, started: ContinuousClock.Instant) {
        ifDue(terminalEvery: .seconds(1), plainEvery: .seconds(10), started: started) { elapsed in
            let final = report.delivered + report.bounced + report.expired + report.failed
            let left = report.accepted - final
            let rate = Double(final) / elapsed
            let eta = rate > 0 ? String(format: ", about %.0f s more at the pace so far", Double(left) / rate) : ""
            let providers = report.byProvider.sorted { $0.key < $1.key }
                .compactMap { p, c in c.queued + c.deferred > 0 ? "\(p): \(c.queued + c.deferred) left" : nil }.joined(separator: ", ")
            return "\(final) of \(report.accepted) final; \(left) held back by the warm-up's pacing or deferred\(eta) [\(providers)]"
        }
    }

    func finish() {
        if terminal && !json { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
