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
        if try await engine.campaign(id: campaign) != nil {
            throw KilnError(.invalidInput, "campaign '\(campaign)' already exists in this store; use `kiln campaign resume \(campaign)`", location: "--campaign")
        }
        let runner = CampaignRunner(engine: engine)
        let record = try await runner.create(id: campaign, recipientsFile: recipients, template: message, configurationSet: configSet ?? templateSet)
        try await CampaignSessionCommand(engine: engine, runner: runner, config: options.config, json: output.json, detach: detach).run(record)
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
        guard let record = try await engine.campaign(id: id) else { throw KilnError(.invalidInput, "no campaign '\(id)' in this store", location: id) }
        try await CampaignSessionCommand(engine: engine, runner: CampaignRunner(engine: engine), config: options.config, json: output.json, detach: detach).run(record)
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
    guard try await engine.campaign(id: id) != nil else { throw KilnError(.invalidInput, "no campaign '\(id)' in this store", location: id) }
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

/// `kiln campaign run` and `resume`: runs the campaign (`CampaignSession`) with progress
/// on standard error and the report on standard output; SIGINT and SIGTERM stop it
/// gracefully and it says how to resume.
struct CampaignSessionCommand {
    let engine: SendEngine
    let runner: CampaignRunner
    let config: String
    let json: Bool
    /// Leave what is not due yet to a running `kiln run` instead of waiting for it.
    var detach = false

    /// The exit status of a finished campaign some of whose recipients failed.
    static let someFailed: Int32 = 4

    func run(_ record: CampaignRecord) async throws {
        let session = CampaignSession(engine: engine, runner: runner, detach: detach)
        let progress = Progress(campaign: record.id, json: json)
        let (report, outcome) = try await withThrowingTaskGroup(of: Void.self) { signals in
            // Through ServiceLifecycle's signal sequence, as for `kiln run`.
            signals.addTask {
                for await _ in await UnixSignalsSequence(trapping: .sigint, .sigterm) { session.interrupt() }
            }
            defer { signals.cancelAll() }
            return try await session.run(record, progressEvery: progress.interval, progress: { result in
                switch result {
                case .success(let report): progress.show(report)
                case .failure(let error): progress.show(problem: "progress unavailable: \(error)")
                }
            }, rejected: { line, reason in
                FileHandle.standardError.write(Data("kiln: \(record.recipientsFile):\(line): skipped: \(reason)\n".utf8))
            })
        }
        if outcome == .finished && !detach { progress.finished(report) }
        progress.finish()
        if json { printJSON(report) } else { printReport(report) }
        switch outcome {
        case .queued:
            FileHandle.standardError.write(Data("kiln: campaign \(record.id) queued whole; a running `kiln run --config \(config)` delivers the rest at the warm-up's pace (kiln campaign status \(record.id))\n".utf8))
        case .stopped(let paused):
            let why = paused ? " (sending is paused: kiln resume)" : ""
            FileHandle.standardError.write(Data("kiln: campaign \(record.id) stopped\(why); finish it with: kiln campaign resume \(record.id) --config \(config)\n".utf8))
            throw ExitCode(3)
        case .finished where report.failed > 0:
            // Recipients that could not be sent at all (a rendering failure): not a success.
            FileHandle.standardError.write(Data("kiln: \(report.failed) of \(report.accepted) recipients of campaign \(record.id) failed and were not sent (their renderingFailure events say why)\n".utf8))
            throw ExitCode(Self.someFailed)
        case .finished:
            break
        }
    }
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
