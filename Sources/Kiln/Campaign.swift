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

    /// Every accepted message is final or deferred, and the list is fully read.
    public var isSettled: Bool { ingestComplete && pending == 0 }
}

/// Runs campaigns: a CSV of recipients and a template, streamed into the durable queue in
/// batches (one transaction per batch, with the resume point), rendered per recipient at
/// send time.
public struct CampaignRunner: Sendable {
    public let engine: SendEngine
    /// Rows per transaction.
    public var batchSize = 5_000

    public init(engine: SendEngine) { self.engine = engine }

    /// Creates the campaign (or finds it, for a resume) after checking the template.
    public func create(id: String, recipientsFile: String, template: MessageTemplate, configurationSet: String?) throws(KilnError) -> CampaignRecord {
        guard !id.isEmpty, !id.contains(":"), id.unicodeScalars.allSatisfy({ $0.value > 32 && $0.value < 127 }) else {
            throw KilnError(.invalidInput, "a campaign id is printable ASCII without spaces or colons (it goes into Feedback-ID)", location: "--campaign")
        }
        if let existing = try engine.store.campaign(id: id) { return existing }
        guard FileManager.default.isReadableFile(atPath: recipientsFile) else {
            throw KilnError(.invalidInput, "cannot read the recipients file", location: recipientsFile)
        }
        let from: EmailAddress
        do { from = try EmailAddress(template.from) } catch { throw KilnError(.invalidAddress, "'\(template.from)' is not an email address", location: "template.from") }
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
        let data: [UInt8]
        do { data = [UInt8](try JSONEncoder().encode(template)) } catch { throw KilnError(.invalidMessage, "the template does not encode: \(error)") }
        let content = StoredContent(data: data, envelopeDomain: identity.returnPathDomain ?? identity.domain, configurationSet: set.name,
                                    campaign: id, fromDomain: identity.domain, isTemplate: true)
        let absolute = recipientsFile.hasPrefix("/") ? recipientsFile : FileManager.default.currentDirectoryPath + "/" + recipientsFile
        return try engine.store.createCampaign(id: id, content: content, recipientsFile: absolute, now: engine.now())
    }

    /// Streams the rest of the recipients file into the queue (from the resume point).
    /// - Parameters:
    ///   - rejected: called for each malformed row with its line and the reason.
    ///   - shouldStop: checked between batches (Ctrl-C).
    ///   - progress: called after each batch with the rows read so far.
    public func ingest(_ campaign: CampaignRecord, rejected: (Int, String) -> Void = { _, _ in },
                       shouldStop: () -> Bool = { false }, progress: (Int) -> Void = { _ in }) async throws(KilnError) -> CampaignRecord {
        guard !campaign.ingestComplete else { return campaign }
        guard let file = FileHandle(forReadingAtPath: campaign.recipientsFile) else {
            throw KilnError(.invalidInput, "cannot read the recipients file", location: campaign.recipientsFile)
        }
        defer { try? file.close() }
        var parser = CSVParser()
        var header: [String]?
        var emailColumn = 0
        var dataRows = 0
        var batch: [CampaignRow] = []
        var batchRejected = 0
        var failure: KilnError?
        var stopped = false
        var rejectedRows: [(Int, String)] = []
        let skip = campaign.rowsRead

        func flush(complete: Bool) throws(KilnError) {
            try engine.store.ingest(campaign: campaign.id, contentID: campaign.contentID, rows: batch, rowsRead: dataRows,
                                    rejected: batchRejected, complete: complete, now: engine.now())
            batch.removeAll(keepingCapacity: true)
            batchRejected = 0
            progress(dataRows)
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
                    let names = record.fields.map { $0.trimmingCharacters(in: .whitespaces) }
                    guard let index = names.firstIndex(where: { $0.lowercased() == "email" }) else {
                        failure = KilnError(.invalidInput, "the header row has no 'email' column", location: "\(campaign.recipientsFile):\(record.line)")
                        return
                    }
                    header = names
                    emailColumn = index
                    return
                }
                dataRows += 1
                if dataRows <= skip { return }
                guard record.fields.count == columns.count else {
                    batchRejected += 1
                    rejectedRows.append((record.line, "\(record.fields.count) fields where the header has \(columns.count)"))
                    return
                }
                let text = record.fields[emailColumn].trimmingCharacters(in: .whitespaces)
                guard let address = try? EmailAddress(text) else {
                    batchRejected += 1
                    rejectedRows.append((record.line, "'\(text)' is not an email address"))
                    return
                }
                var json: [UInt8] = [UInt8(ascii: "{")]
                for (index, name) in columns.enumerated() where index != emailColumn {
                    if json.count > 1 { json.append(UInt8(ascii: ",")) }
                    JSONText.append(name, to: &json)
                    json.append(UInt8(ascii: ":"))
                    JSONText.append(record.fields[index], to: &json)
                }
                json.append(UInt8(ascii: "}"))
                batch.append(CampaignRow(address: address.description, provider: MailboxProvider.classify(domain: address.domain) ?? .other, variables: json))
            }
        }

        var buffer = Data()
        while true {
            buffer = file.readData(ofLength: 1 << 20)
            if buffer.isEmpty { break }
            parser.feed(buffer, handle)
            for (line, reason) in rejectedRows { rejected(line, reason) }
            rejectedRows.removeAll()
            if let failure { throw failure }
            if batch.count >= batchSize || (batchRejected > 0 && batch.count + batchRejected >= batchSize) {
                try await resolveProviders(&batch)
                try flush(complete: false)
                if shouldStop() { stopped = true; break }
            }
        }
        if !stopped {
            parser.finish(handle)
            for (line, reason) in rejectedRows { rejected(line, reason) }
            if let failure { throw failure }
            if header == nil { throw KilnError(.invalidInput, "the recipients file is empty", location: campaign.recipientsFile) }
        }
        try await resolveProviders(&batch)
        try flush(complete: !stopped)
        return try engine.store.campaign(id: campaign.id) ?? campaign
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
    public func report(_ id: String) throws(KilnError) -> CampaignReport {
        guard let campaign = try engine.store.campaign(id: id) else {
            throw KilnError(.notFound, "no campaign '\(id)' in this store", location: id)
        }
        let (counts, spilled, transient) = try engine.store.campaignCounts(contentID: campaign.contentID)
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
        let complaints = try engine.store.countEvents(kind: .complaint, contentID: campaign.contentID)
        return CampaignReport(
            campaign: id, recipients: campaign.rowsRead, rejectedRows: campaign.rejectedRows, suppressed: campaign.suppressed,
            duplicates: campaign.duplicates, accepted: campaign.accepted, delivered: totals.delivered, bounced: totals.bounced,
            transientFailures: transient, deferred: totals.deferred, expired: totals.expired, failed: totals.failed, pending: totals.queued,
            spilled: spilled, complaints: complaints, ingestComplete: campaign.ingestComplete, byProvider: byProvider)
    }
}

/// Minimal JSON string writing for the hot ingest path.
enum JSONText {
    static func append(_ string: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out += [92, 34]
            case 92: out += [92, 92]
            case 10: out += [92, UInt8(ascii: "n")]
            case 13: out += [92, UInt8(ascii: "r")]
            case 9: out += [92, UInt8(ascii: "t")]
            case 0..<32:
                let hex = Array("0123456789abcdef".utf8)
                out += [92, UInt8(ascii: "u"), 48, 48, hex[Int(byte >> 4)], hex[Int(byte & 15)]]
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
