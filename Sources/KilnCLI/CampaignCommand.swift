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
        let report = try await campaignReport(id, config: options.config, pace: true)
        if output.json { printJSON(report); return }
        let done = report.delivered + report.bounced + report.expired + report.failed
        print("campaign \(id): \(report.ingestComplete ? "list read" : "list partly read") (\(report.recipients) rows), "
              + "\(done) of \(report.accepted) final, \(report.deferred) deferred, \(report.pending) pending")
        if let pace = report.pace, !report.isFinished {
            print("  " + PaceText.summary(report, pace) + (pace.live ? "" : " (allowances as the delivering engine last saved them)"))
        }
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
/// - Parameter pace: with what pacing holds back and its drain time (`CampaignPace`).
func campaignReport(_ id: String, config: String, pace: Bool = false) async throws -> CampaignReport {
    let engine = try SendEngine(configurationFile: config, logger: makeLogger())
    guard try await engine.store.campaign(id: id) != nil else { throw KilnError(.invalidInput, "no campaign '\(id)' in this store", location: id) }
    return try await CampaignRunner(engine: engine).report(id, pace: pace)
}

func printReport(_ r: CampaignReport) {
    print("campaign \(r.campaign)")
    print("  recipients (rows) \(r.recipients)   rejected rows \(r.rejectedRows)   duplicates \(r.duplicates)   suppressed \(r.suppressed)")
    print("  accepted \(r.accepted)   delivered \(r.delivered)   bounced \(r.bounced)   deferred \(r.deferred) (after a failure: \(r.transientFailures))")
    print("  expired \(r.expired)   failed \(r.failed)   pending \(r.pending)   spilled to shared \(r.spilled)   complaints \(r.complaints)")
    if r.bounced > 0 || r.failed > 0 {
        func reasons(_ counts: [String: Int]) -> String {
            counts.isEmpty ? "" : " (" + counts.sorted { ($1.value, $0.key) < ($0.value, $1.key) }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") + ")"
        }
        print("  bounced: \(r.bounced)\(reasons(r.bounceReasons)); failed: \(r.failed)\(reasons(r.failureReasons))")
    }
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
        let progress = Progress(campaign: record.id, json: json)
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
            // A progress line every `progress.interval`, from the store and the live warm-up.
            helpers.addTask { [runner] in
                while !Task.isCancelled {
                    do {
                        progress.show(try await runner.report(record.id, pace: true, reasons: false))
                    } catch {
                        progress.show(problem: "progress unavailable: \(error)")
                    }
                    try await Task.sleep(for: progress.interval)
                }
            }
            // Deliver while the list streams in.
            async let delivery: Void = engine.run()
            do {
                ingested = try await runner.ingest(record, rejected: { line, reason in
                    FileHandle.standardError.write(Data("kiln: \(record.recipientsFile):\(line): skipped: \(reason)\n".utf8))
                }, shouldStop: { interrupted.flag.load(ordering: .relaxed) })
            } catch {
                engine.stop()
                _ = try? await delivery
                throw error
            }
            // Deliver at the warm-up's pace, as `kiln run` does, until every message of the
            // campaign is final; a pause of its sending stops the run (resume it later).
            if !detach {
                while !interrupted.flag.load(ordering: .relaxed) {
                    let report = try await runner.report(record.id, reasons: false)
                    if report.isFinished { progress.finished(report) }
                    if report.isFinished || !report.ingestComplete { break }
                    let paused = try await engine.store.pausedScopes()
                    if paused.contains("*") || paused.contains(record.configurationSet) {
                        pausedStop = true
                        break
                    }
                    try await Task.sleep(for: .milliseconds(500))
                }
            }
            engine.stop()
            try await delivery
            try await engine.deliverEventsBeforeExit(logger: makeLogger())
            helpers.cancelAll()
        }
        engine.closeEvents()
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

/// Progress on standard error (the report goes to standard output): a line redrawn in
/// place every second on a terminal, else a line every two seconds, each with the time
/// since the run started, what is final, what pacing holds back per provider and the ETA
/// at the allowances granted now (`CampaignPace`):
///
/// ```text
/// campaign spring [4.0 s]: 60 of 80 final (60 delivered); 20 held back by pacing [gmail: 20 left, ~20 s at 3,600/h]; ETA ~20 s
/// campaign spring [24.3 s]: 80 of 80 final (80 delivered); done
/// ```
final class Progress: @unchecked Sendable {
    let campaign: String
    let json: Bool
    let terminal = isatty(2) == 1
    let started = ContinuousClock.now
    let lock = NSLock()
    var printedFinal = false

    /// Between two lines.
    var interval: Duration { terminal ? .seconds(1) : .seconds(2) }

    init(campaign: String, json: Bool) {
        self.campaign = campaign
        self.json = json
    }

    /// Seconds since the run started.
    var elapsed: Double {
        let d = ContinuousClock.now - started
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    func write(_ text: String) {
        guard !json else { return }
        lock.withLock {
            guard !printedFinal else { return }
            FileHandle.standardError.write(Data(((terminal ? "\r\u{1B}[K" : "") + text + (terminal ? "" : "\n")).utf8))
        }
    }

    func prefix() -> String { String(format: "campaign %@ [%.1f s]: ", campaign, elapsed) }

    func show(_ report: CampaignReport) {
        write(prefix() + PaceText.line(report))
    }

    func show(problem: String) { write(prefix() + problem) }

    /// The last line, once every message is final.
    func finished(_ report: CampaignReport) {
        write(prefix() + PaceText.final(report) + "; done")
        lock.withLock { printedFinal = true }
    }

    func finish() {
        if terminal && !json { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}

/// How a campaign's pace reads in progress lines and `kiln campaign status`.
enum PaceText {
    /// `1,200`.
    static func grouped(_ n: Int) -> String {
        let digits = String(n.magnitude)
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0, (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return (n < 0 ? "-" : "") + out
    }

    /// `60 of 80 final (58 delivered, 2 bounced)`.
    static func final(_ r: CampaignReport) -> String {
        let final = r.delivered + r.bounced + r.expired + r.failed
        let parts = [("delivered", r.delivered), ("bounced", r.bounced), ("expired", r.expired), ("failed", r.failed)]
            .filter { $0.1 > 0 || $0.0 == "delivered" }.map { "\(grouped($0.1)) \($0.0)" }
        return "\(grouped(final)) of \(grouped(r.accepted)) final (\(parts.joined(separator: ", ")))"
    }

    /// `gmail: 1,200 left, ~3 h 10 m at 380/h` (`+ relay` when the pool spills to it now).
    static func provider(_ e: DrainEstimate, paused: Bool) -> String {
        let left = "\(e.provider): \(grouped(e.pending)) left"
        if paused { return left + ", paused" }
        let relay = e.relay.map { $0.hourly.map { " + relay \(grouped($0))/h" } ?? " + relay" } ?? ""
        guard let seconds = e.seconds else { return left + (e.resting ? ", ETA unknown (every IP resting after a throttle or block)" : ", ETA unknown (no allowance yet)") }
        return left + ", \(DrainEstimate.text(seconds: seconds)) at \(e.hourly.map { grouped($0) } ?? "0")/h" + relay
    }

    /// What pacing holds back per provider, and the ETA.
    static func summary(_ r: CampaignReport, _ pace: CampaignPace) -> String {
        let held = pace.providers.reduce(0) { $0 + $1.pending }
        let afterFailure = min(held, r.transientFailures)
        let paused = pace.paused
        var text = "\(grouped(held - afterFailure)) held back by pacing"
        if afterFailure > 0 { text += " and \(grouped(afterFailure)) deferred after a failure" }
        if !pace.providers.isEmpty { text += " [" + pace.providers.map { provider($0, paused: paused) }.joined(separator: "; ") + "]" }
        if pace.inFlight > 0 { text += ", \(grouped(pace.inFlight)) in flight" }
        if paused { return text + "; paused" }
        let unknown = pace.providers.contains { $0.seconds == nil && !$0.resting } ? "no allowance yet" : "every IP resting"
        return text + "; " + (pace.seconds.map { "ETA " + DrainEstimate.text(seconds: $0) } ?? "ETA unknown (\(unknown))")
    }

    static func line(_ r: CampaignReport) -> String {
        var text = r.ingestComplete ? "" : "\(grouped(r.recipients)) rows read, "
        text += final(r)
        // Nothing queued yet: no ETA to give.
        if let pace = r.pace, r.accepted > 0 || r.ingestComplete { text += "; " + summary(r, pace) }
        return text
    }
}
