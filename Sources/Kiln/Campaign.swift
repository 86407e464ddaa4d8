import Foundation
import KilnCore
import KilnMessage
import KilnStore

/// A campaign's template file (JSON): `from`, optional `fromName` and `replyTo`,
/// `subject`, `text` and/or `html` inline or as `textFile` / `htmlFile` (relative to the
/// template file), `tags` (the first two fields of Feedback-ID), optional
/// `configurationSet`.
public struct CampaignTemplateFile: Codable, Sendable {
    public var from: String
    public var fromName: String?
    public var replyTo: String?
    public var subject: String
    public var text: String?
    public var html: String?
    public var textFile: String?
    public var htmlFile: String?
    public var tags: [String]?
    public var configurationSet: String?

    /// Reads and checks a template file; an error names the file and the field.
    public static func load(path: String) throws(KilnError) -> (MessageTemplate, configurationSet: String?) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw KilnError(.invalidInput, "cannot read the template file", location: path)
        }
        let file: CampaignTemplateFile
        do { file = try JSONDecoder().decode(CampaignTemplateFile.self, from: data) } catch {
            throw KilnError(.invalidInput, "the template file is not valid: \(error)", location: path)
        }
        let directory = (path as NSString).deletingLastPathComponent
        func read(_ inline: String?, _ file: String?, field: String) throws(KilnError) -> String? {
            if inline != nil && file != nil { throw KilnError(.invalidInput, "give \(field) or \(field)File, not both", location: "\(path): \(field)") }
            guard let file else { return inline }
            let resolved = file.hasPrefix("/") ? file : (directory as NSString).appendingPathComponent(file)
            let size = (try? FileManager.default.attributesOfItem(atPath: resolved)[.size] as? Int) ?? 0
            guard size <= MessageTemplate.maxPartBytes else {
                throw KilnError(.invalidInput, "\(resolved) is \(size) bytes; a template part may have at most \(MessageTemplate.maxPartBytes)",
                                location: "\(path): \(field)File")
            }
            guard let data = FileManager.default.contents(atPath: resolved) else {
                throw KilnError(.invalidInput, "cannot read \(resolved)", location: "\(path): \(field)File")
            }
            return String(decoding: data, as: UTF8.self)
        }
        let template = MessageTemplate(from: file.from, fromName: file.fromName, replyTo: file.replyTo, subject: file.subject,
                                       text: try read(file.text, file.textFile, field: "text"), html: try read(file.html, file.htmlFile, field: "html"),
                                       tags: file.tags)
        do { _ = try template.compile() } catch {
            throw KilnError(error.code, error.message, location: "\(path): \(error.location ?? "template")")
        }
        return (template, file.configurationSet)
    }
}

/// The outcome of a campaign so far.
public struct CampaignReport: Codable, Sendable {
    public struct ProviderCounts: Codable, Sendable {
        public var accepted = 0
        public var delivered = 0
        public var bounced = 0
        public var deferred = 0
        public var expired = 0
        public var queued = 0
        public var failed = 0
    }
    public var campaign: String
    /// CSV data rows read.
    public var recipients: Int
    public var rejectedRows: Int
    public var suppressed: Int
    public var duplicates: Int
    public var accepted: Int
    public var delivered: Int
    public var bounced: Int
    /// Deferred after a failed attempt (a transient bounce) — part of `deferred`.
    public var transientFailures: Int
    public var deferred: Int
    public var expired: Int
    /// Rendering failures (a missing variable) and other failures that will not be retried.
    public var failed: Int
    /// Still queued or in flight.
    public var pending: Int
    public var spilled: Int
    public var complaints: Int
    public var ingestComplete: Bool
    public var byProvider: [String: ProviderCounts]
    /// Bounced messages by the reason their permanent failure was classified as
    /// (`ReplyReason`: `userunknown`, `blocked`, ...; `unclassified` when the reply had none).
    public var bounceReasons: [String: Int] = [:]
    /// Failed messages by why (`CampaignRunner.failureReason(detail:)`; `suppressed` for an
    /// address suppressed at send time).
    public var failureReasons: [String: Int] = [:]
    /// What pacing holds back and when it leaves (`report(_:pace:)` with `pace` only).
    public var pace: CampaignPace?

    /// Every accepted message is final or deferred, and the list is fully read.
    public var isSettled: Bool { ingestComplete && pending == 0 }
    /// Every accepted message is final (delivered, bounced, expired or failed), and the
    /// list is fully read: the campaign has run to its end.
    public var isFinished: Bool { isSettled && deferred == 0 }
}

/// What the warm-up's pacing holds back of a campaign and how long it takes to leave at the
/// allowances granted now.
public struct CampaignPace: Codable, Sendable {
    /// Per provider with messages left: queued and deferred, not those in flight (they hold
    /// a token already); `DrainEstimate` says how it is computed.
    public var providers: [DrainEstimate]
    /// Seconds until the campaign is finished: the slowest provider's drain (nil: some
    /// provider has no allowance yet, or sending is paused).
    public var seconds: Int64?
    /// The allowances came from the delivery run in this process (false: as saved last).
    public var live: Bool
    /// Messages in flight: leased, with a token.
    public var inFlight: Int
    /// Sending is paused for the whole store or the campaign's configuration set.
    public var paused: Bool

    public init(providers: [DrainEstimate], live: Bool, inFlight: Int, paused: Bool) {
        self.providers = providers
        self.live = live
        self.inFlight = inFlight
        self.paused = paused
        seconds = providers.contains { $0.seconds == nil } ? nil : providers.compactMap(\.seconds).max() ?? 0
    }
}

/// Runs campaigns: a CSV of recipients and a template, streamed into the durable queue in
/// batches (one transaction per batch, with the resume point), rendered per recipient at
/// send time.
public struct CampaignRunner: Sendable {
    public let engine: SendEngine
    /// Rows per transaction, at least: a batch is written once a read of the file
    /// (`readSize` bytes) has filled it.
    public var batchSize = 5_000
    /// Bytes read from the list at a time.
    public var readSize = 1 << 20

    public init(engine: SendEngine) { self.engine = engine }

    /// Creates the campaign (or finds it, for a resume) after checking the template.
    public func create(id: String, recipientsFile: String, template: MessageTemplate, configurationSet: String?) async throws(KilnError) -> CampaignRecord {
        guard !id.isEmpty, !id.contains(":"), id.unicodeScalars.allSatisfy({ $0.value > 32 && $0.value < 127 }) else {
            throw KilnError(.invalidInput, "a campaign id is printable ASCII without spaces or colons (it goes into Feedback-ID)", location: "--campaign")
        }
        if let existing = try await engine.store.campaign(id: id) { return existing }
        guard FileManager.default.isReadableFile(atPath: recipientsFile) else {
            throw KilnError(.invalidInput, "cannot read the recipients file", location: recipientsFile)
        }
        let from: EmailAddress
        do { from = try EmailAddress(template.from) } catch { throw KilnError(.invalidAddress, "'\(template.from.escapingControlCharacters)' is not an email address", location: "template.from") }
        guard let identity = engine.configuration.identity(for: from) else {
            throw KilnError(.notAllowedSender, "\(from) is not in a configured identity", location: "template.from")
        }
        if let allowed = identity.allowedFromAddresses, !allowed.isEmpty, !allowed.contains(where: { (try? EmailAddress($0)) == from }) {
            throw KilnError(.notAllowedSender, "\(from) is not an allowed From address of \(identity.domain)", location: "template.from")
        }
        guard let set = engine.configuration.configurationSet(named: configurationSet) else {
            throw KilnError(.invalidInput, "no configuration set named '\(configurationSet ?? "")'", location: "--config-set")
        }
        _ = try MessageFinisher.feedbackID(set, name: set.name, campaign: id, tags: template.tags ?? [], senderId: engine.configuration.senderId)
        // A variable the template uses that no column gives would fail every recipient:
        // an error before anything is queued, naming it.
        if let columns = Self.headerColumns(of: recipientsFile) {
            let given = Set(columns.map { $0.trimmingWhitespace() }.filter { $0.lowercased() != "email" })
            let missing = try template.compile().required.filter { !given.contains($0) }
            if !missing.isEmpty {
                let names = missing.map { "'\($0)'" }.joined(separator: ", ")
                throw KilnError(.invalidInput, "the template uses \(names), which the header row has no column for (it has: \(given.sorted().joined(separator: ", ")))",
                                location: "\(recipientsFile):1")
            }
        }
        let data: [UInt8]
        do { data = [UInt8](try JSONEncoder().encode(template)) } catch { throw KilnError(.invalidMessage, "the template does not encode: \(error)") }
        let content = StoredContent(data: data, envelopeDomain: identity.returnPathDomain ?? identity.domain, configurationSet: set.name,
                                    campaign: id, fromDomain: identity.domain, isTemplate: true)
        let absolute = recipientsFile.hasPrefix("/") ? recipientsFile : FileManager.default.currentDirectoryPath + "/" + recipientsFile
        return try await engine.store.createCampaign(id: id, content: content, recipientsFile: absolute, now: engine.now())
    }

    /// The columns of the recipients file's header row; nil when the file does not start
    /// with a well-formed row (reading it says why).
    static func headerColumns(of path: String) -> [String]? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        var parser = CSVParser()
        var first: CSVParser.Item?
        var read = 0
        while first == nil, read < 1 << 20, let chunk = try? handle.read(upToCount: 65_536), !chunk.isEmpty {
            read += chunk.count
            parser.feed(chunk) { item in if first == nil { first = item } }
        }
        if first == nil { parser.finish { item in if first == nil { first = item } } }
        guard case .record(let record) = first else { return nil }
        return record.fields
    }

    /// Streams the rest of the recipients file into the queue (from the resume point).
    /// Parsing and the store's writes overlap: while one batch commits, the next is parsed.
    /// Addresses seen are kept as 64-bit fingerprints in memory (8 bytes a slot, sized
    /// from the file's length), rebuilt from the queue when a campaign resumes.
    /// - Parameters:
    ///   - rejected: called for each malformed row with its line and the reason.
    ///   - shouldStop: checked between batches (Ctrl-C).
    ///   - progress: called after each batch commits with the rows read so far.
    public func ingest(_ campaign: CampaignRecord, rejected: (Int, String) -> Void = { _, _ in },
                       shouldStop: () -> Bool = { false }, progress: (Int) -> Void = { _ in }) async throws(KilnError) -> CampaignRecord {
        guard !campaign.ingestComplete else { return campaign }
        guard let file = FileHandle(forReadingAtPath: campaign.recipientsFile) else {
            throw KilnError(.invalidInput, "cannot read the recipients file", location: campaign.recipientsFile)
        }
        defer { try? file.close() }
        let fileSize = (try? FileManager.default.attributesOfItem(atPath: campaign.recipientsFile)[.size] as? Int) ?? 0
        var parser = CSVParser()
        var header: [String]?
        var keys: [[UInt8]] = []
        var emailColumn = 0
        var dataRows = 0
        var batch: [CampaignRow] = []
        var batchRejected = 0
        var batchDuplicates = 0
        var failure: KilnError?
        var stopped = false
        var rejectedRows: [(Int, String)] = []
        let skip = campaign.rowsRead
        var seen: FingerprintSet?
        var pending: Task<Int, any Error>?
        var pendingRows = 0

        func settle() async throws(KilnError) {
            guard let task = pending else { return }
            pending = nil
            do { _ = try await task.value } catch {
                throw error as? KilnError ?? KilnError(.storeFailure, "store: ingest campaign rows failed", underlying: error)
            }
            progress(pendingRows)
        }

        func flush(complete: Bool) async throws(KilnError) {
            try await settle()
            try await resolveProviders(&batch)
            let (store, id, contentID, rows, rowsRead, rejected, duplicates, now) =
                (engine.store, campaign.id, campaign.contentID, batch, dataRows, batchRejected, batchDuplicates, engine.now())
            pending = Task {
                try await store.ingest(campaign: id, contentID: contentID, rows: rows, rowsRead: rowsRead, rejected: rejected,
                                       duplicates: duplicates, complete: complete, now: now)
            }
            pendingRows = dataRows
            batch.removeAll(keepingCapacity: true)
            batchRejected = 0
            batchDuplicates = 0
        }

        func handle(_ item: CSVParser.Item) {
            guard failure == nil else { return }
            switch item {
            case .malformed(let line, let reason):
                if header == nil {
                    failure = KilnError(.invalidInput, "the header row is malformed: \(reason)", location: "\(campaign.recipientsFile):\(line)")
                    return
                }
                dataRows += 1
                if dataRows <= skip { return }
                batchRejected += 1
                rejectedRows.append((line, reason))
            case .record(let record):
                guard let columns = header else {
                    let names = record.fields.map { $0.trimmingWhitespace() }
                    guard let index = names.firstIndex(where: { $0.lowercased() == "email" }) else {
                        failure = KilnError(.invalidInput, "the header row has no 'email' column", location: "\(campaign.recipientsFile):\(record.line)")
                        return
                    }
                    header = names
                    emailColumn = index
                    // `"name":` once per column, with the separating comma where one is due.
                    var first = true
                    keys = names.enumerated().map { column, name in
                        guard column != index else { return [] }
                        var key: [UInt8] = first ? [] : [UInt8(ascii: ",")]
                        first = false
                        JSONText.append(name, to: &key)
                        key.append(UInt8(ascii: ":"))
                        return key
                    }
                    return
                }
                dataRows += 1
                if dataRows <= skip { return }
                guard record.fields.count == columns.count else {
                    batchRejected += 1
                    rejectedRows.append((record.line, "\(record.fields.count) fields where the header has \(columns.count)"))
                    return
                }
                let text = record.fields[emailColumn]
                let address: EmailAddress
                do throws(KilnError) {
                    guard !record.invalidUTF8Fields.contains(emailColumn) else {
                        throw KilnError(.invalidAddress, "'\(text.trimmingWhitespace().escapingControlCharacters)' is not valid UTF-8")
                    }
                    address = try EmailAddress(text)
                } catch {
                    batchRejected += 1
                    rejectedRows.append((record.line, error.message))
                    return
                }
                let written = address.description
                guard seen!.insert(written.lowercased()) else {
                    batchDuplicates += 1
                    return
                }
                var json: [UInt8] = []
                json.reserveCapacity(64)
                json.append(UInt8(ascii: "{"))
                for (index, key) in keys.enumerated() where index != emailColumn {
                    json += key
                    JSONText.append(record.fields[index], to: &json)
                }
                json.append(UInt8(ascii: "}"))
                batch.append(CampaignRow(address: written, provider: MailboxProvider.classify(domain: address.domain) ?? .other, variables: json))
            }
        }

        while true {
            let chunk = file.readData(ofLength: readSize)
            if chunk.isEmpty { break }
            if seen == nil { seen = try await rebuildSeen(campaign, fileSize: fileSize, sample: chunk) }
            parser.feed([UInt8](chunk), handle)
            for (line, reason) in rejectedRows { rejected(line, reason) }
            rejectedRows.removeAll()
            if let failure { throw failure }
            if batch.count + batchRejected + batchDuplicates >= batchSize {
                try await flush(complete: false)
                if shouldStop() { stopped = true; break }
            }
        }
        if !stopped {
            if seen == nil { seen = FingerprintSet() }
            parser.finish(handle)
            for (line, reason) in rejectedRows { rejected(line, reason) }
            if let failure { throw failure }
            if header == nil { throw KilnError(.invalidInput, "the recipients file is empty", location: campaign.recipientsFile) }
        }
        try await flush(complete: !stopped)
        try await settle()
        return try await engine.store.campaign(id: campaign.id) ?? campaign
    }

    /// The addresses already queued for a campaign (none for a new one), in a set sized
    /// for the whole file: its length over the length of the rows in the first chunk.
    func rebuildSeen(_ campaign: CampaignRecord, fileSize: Int, sample: Data) async throws(KilnError) -> FingerprintSet {
        let lines = max(1, sample.reduce(0) { $0 + ($1 == 10 ? 1 : 0) })
        let expected = Int(saturating: Double(fileSize) / (Double(sample.count) / Double(lines)) * 1.05)
        var seen = FingerprintSet(expected: expected)
        if campaign.rowsRead > 0 {
            var after: MessageID?
            repeat {
                let page = try await engine.store.recipients(contentID: campaign.contentID, after: after, limit: 10_000)
                for address in page.addresses { seen.insert(address.lowercased()) }
                after = page.next
            } while after != nil
        }
        return seen
    }

    /// In MX mode, domains outside the built-in table are classified by their MX hosts.
    func resolveProviders(_ batch: inout [CampaignRow]) async throws(KilnError) {
        guard engine.configuration.delivery.mode == .mx else { return }
        for index in batch.indices where batch[index].provider == .other {
            guard let address = try? EmailAddress(batch[index].address) else { continue }
            batch[index].provider = await engine.provider(for: address)
        }
    }

    /// The campaign's report from the store.
    /// - Parameters:
    ///   - pace: also what pacing holds back and its drain at the allowances now (`CampaignPace`).
    ///   - reasons: count bounces and failures by reason (a read of their events).
    public func report(_ id: String, pace: Bool = false, reasons withReasons: Bool = true) async throws(KilnError) -> CampaignReport {
        guard let campaign = try await engine.store.campaign(id: id) else {
            throw KilnError(.notFound, "no campaign '\(id)' in this store", location: id)
        }
        let (counts, spilled, transient) = try await engine.store.campaignCounts(contentID: campaign.contentID)
        var byProvider: [String: CampaignReport.ProviderCounts] = [:]
        var totals = CampaignReport.ProviderCounts()
        for count in counts {
            func add(_ c: inout CampaignReport.ProviderCounts) {
                c.accepted += count.count
                switch count.state {
                case .delivered: c.delivered += count.count
                case .bounced: c.bounced += count.count
                case .deferred: c.deferred += count.count
                case .expired: c.expired += count.count
                case .queued, .leased: c.queued += count.count
                case .failed, .suppressed: c.failed += count.count
                }
            }
            add(&byProvider[count.provider.id, default: .init()])
            add(&totals)
        }
        let complaints = try await engine.store.countEvents(kind: .complaint, contentID: campaign.contentID)
        var report = CampaignReport(
            campaign: id, recipients: campaign.rowsRead, rejectedRows: campaign.rejectedRows, suppressed: campaign.suppressed,
            duplicates: campaign.duplicates, accepted: campaign.accepted, delivered: totals.delivered, bounced: totals.bounced,
            transientFailures: transient, deferred: totals.deferred, expired: totals.expired, failed: totals.failed, pending: totals.queued,
            spilled: spilled, complaints: complaints, ingestComplete: campaign.ingestComplete, byProvider: byProvider)
        let suppressedAtSend = counts.filter { $0.state == .suppressed }.reduce(0) { $0 + $1.count }
        if withReasons {
            (report.bounceReasons, report.failureReasons) = try await reasons(of: id, bounced: totals.bounced, failed: totals.failed - suppressedAtSend)
            if suppressedAtSend > 0 { report.failureReasons["suppressed", default: 0] += suppressedAtSend }
        }
        if pace {
            // Held back: queued or deferred, per provider; what is leased is in flight.
            var held: [String: Int] = [:]
            for count in counts where count.state == .queued || count.state == .deferred { held[count.provider.id, default: 0] += count.count }
            let inFlight = counts.filter { $0.state == .leased }.reduce(0) { $0 + $1.count }
            let pool = engine.configuration.configurationSet(named: campaign.configurationSet)?.pool ?? engine.configuration.pools[0].name
            let paused = try await engine.store.pausedScopes()
            let view = try await engine.warmup()
            let isPaused = paused.contains("*") || paused.contains(campaign.configurationSet)
            let estimates = engine.drainEstimates(pending: held.filter { $0.value > 0 }, pool: pool, warmup: view, paused: isPaused)
            report.pace = CampaignPace(providers: estimates, live: view.live, inFlight: inFlight, paused: isPaused)
        }
        return report
    }

    /// The campaign's bounced messages by reply reason and its failed ones by why, from
    /// their last `bounce` or `renderingFailure` event; what no event explains counts as
    /// `unclassified` / `unknown`.
    func reasons(of id: String, bounced: Int, failed: Int) async throws(KilnError) -> (bounces: [String: Int], failures: [String: Int]) {
        guard bounced + failed > 0 else { return ([:], [:]) }
        let events = try await engine.store.recentEvents(matching: EventQuery(campaign: id, kinds: [.bounce, .renderingFailure]),
                                                         limit: min(1_000_000, 2 * (bounced + failed) + 100))
        var last: [MessageID: DeliveryEvent] = [:]
        for stored in events { if let message = stored.event.messageID { last[message] = stored.event } }
        var bounces: [String: Int] = [:]
        var failures: [String: Int] = [:]
        for event in last.values {
            if event.kind == .bounce {
                bounces[event.reason?.rawValue ?? "unclassified", default: 0] += 1
            } else {
                failures[Self.failureReason(detail: event.detail ?? ""), default: 0] += 1
            }
        }
        // A message counts once, by its last such event.
        let explainedBounces = bounces.values.reduce(0, +)
        let explainedFailures = failures.values.reduce(0, +)
        if bounced > explainedBounces { bounces["unclassified", default: 0] += bounced - explainedBounces }
        if failed > explainedFailures { failures["unknown", default: 0] += failed - explainedFailures }
        return (bounces.filter { $0.value > 0 }, failures.filter { $0.value > 0 })
    }

    /// Why a message could not be rendered, from its `renderingFailure` event's detail
    /// (the engine's `KilnError` text); the first row that matches wins.
    ///
    /// | the detail says | reason | where it is raised |
    /// |---|---|---|
    /// | `the variable '…' is missing` | template variable missing | `MessageTemplate.render` |
    /// | `feedback.maxHeaderBytes` | header too long | `MessageFinisher.finish` |
    /// | `delivery.maxMessageBytes` | message too big | `DeliverySession` (after rendering) |
    /// | `DKIM signing failed` | DKIM signing failed | `DKIMSigner` |
    /// | `does not decode` | stored template or variables unreadable | `MessageFinisher` |
    /// | `content … is missing` | content missing | `DeliverySession.send` |
    /// | anything else | rendering failed | |
    public static func failureReason(detail: String) -> String {
        let table: [(words: [String], reason: String)] = [
            (["the variable '", "' is missing"], "template variable missing"),
            (["feedback.maxHeaderBytes"], "header too long"),
            (["delivery.maxMessageBytes"], "message too big"),
            (["DKIM signing failed"], "DKIM signing failed"),
            (["does not decode"], "stored template or variables unreadable"),
            (["content ", " is missing"], "content missing"),
        ]
        return table.first { row in row.words.allSatisfy { detail.contains($0) } }?.reason ?? "rendering failed"
    }
}

/// Minimal JSON string writing for the hot ingest path.
enum JSONText {
    static func append(_ string: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var string = string
        string.withUTF8 { bytes in
            // Runs that need no escape are copied whole.
            var runStart = 0
            for (index, byte) in bytes.enumerated() where byte < 32 || byte == UInt8(ascii: "\"") || byte == 92 {
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<index]))
                runStart = index + 1
                switch byte {
                case UInt8(ascii: "\""): out += [92, 34]
                case 92: out += [92, 92]
                case 10: out += [92, UInt8(ascii: "n")]
                case 13: out += [92, UInt8(ascii: "r")]
                case 9: out += [92, UInt8(ascii: "t")]
                default:
                    let hex = Array("0123456789abcdef".utf8)
                    out += [92, UInt8(ascii: "u"), 48, 48, hex[Int(byte >> 4)], hex[Int(byte & 15)]]
                }
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart...]))
        }
        out.append(UInt8(ascii: "\""))
    }
}
