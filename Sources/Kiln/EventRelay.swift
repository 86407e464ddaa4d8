import Foundation
import KilnConfiguration
import KilnCore
import KilnStore
import Logging
import Synchronization

/// Takes the stored event log to each configured destination, at least once, in log
/// order, from a cursor kept in the store: a restart resumes where the last run stopped.
/// One task per destination; a destination that fails (a webhook answering 503, a
/// refused connection) retries with `RetryBackoff` and never holds up delivery or the
/// other destinations. The cursor moves only once a batch was taken.
final class EventRelay: Sendable {
    struct Target: Sendable {
        /// `configurationSet/name`: the cursor's key.
        var key: String
        var configurationSet: String
        var destination: EventDestination
        var kinds: Set<DeliveryEvent.Kind>
        var sink: any EventSink
        /// What it takes, as the store counts it (`takes`).
        var filter: OutboxFilter { OutboxFilter(kinds: kinds.map(\.rawValue), configurationSet: configurationSet) }
    }

    let targets: [Target]
    let store: any MessageStore
    let logger: Logger
    let metrics: EngineMetrics
    /// The engine's clock: the waits, the backoffs and the error times are on it.
    let clock: any EngineClock
    /// How long an idle destination waits before it reads the log again.
    let pollInterval: Duration
    let backoff: RetryBackoff
    /// Template tags by content id (a few hundred at most are kept).
    private let tags = Mutex<[Int64: [String]]>([:])

    init(targets: [Target], store: any MessageStore, logger: Logger, metrics: EngineMetrics, clock: any EngineClock,
         pollInterval: Duration = .milliseconds(200),
         backoff: RetryBackoff = RetryBackoff(base: .milliseconds(500), cap: .seconds(30))) {
        self.targets = targets
        self.store = store
        self.logger = logger
        self.metrics = metrics
        self.clock = clock
        self.pollInterval = pollInterval
        self.backoff = backoff
    }

    /// The targets of a configuration, with the webhook secrets as loaded; event files
    /// are found relative to `files`' directory.
    static func targets(of configuration: Configuration, secrets: LoadedSecrets, files: SecretSource) throws(KilnError) -> [Target] {
        var targets: [Target] = []
        for (set, d, path) in configuration.eventDestinations {
            let sink: any EventSink
            if d.type == "webhook", let url = d.url {
                guard let secret = secrets.webhooks[path] else {
                    throw KilnError(.secretUnavailable, "the webhook's secret was not loaded", location: path)
                }
                sink = WebhookSink(url: url, secret: secret, timeoutSeconds: d.timeoutSeconds ?? 10)
            } else {
                let file = files.resolve(d.path ?? "events.jsonl")
                var status = stat()
                if stat(file, &status) == 0, status.st_mode & S_IFMT != S_IFREG {
                    throw KilnError(.invalidConfiguration, "\(file) is not a regular file (a FIFO, a device or a directory): an event file must be one",
                                    location: "\(path).path")
                }
                sink = FileSink(path: file)
            }
            targets.append(Target(key: "\(set)/\(d.name)", configurationSet: set, destination: d, kinds: d.kinds, sink: sink))
        }
        return targets
    }

    /// Runs every destination until cancelled.
    func run() async {
        await withTaskGroup(of: Void.self) { group in
            for target in targets {
                group.addTask { await self.run(target) }
            }
        }
    }

    /// Whether `target` takes `event`: its kinds, of its configuration set, or an engine
    /// event (a pause of the account or of this set, a pool scaling).
    static func takes(_ target: Target, _ stored: StoredEvent) -> Bool {
        target.kinds.contains(stored.event.kind) && OutboxFilter.concerns(stored, configurationSet: target.configurationSet)
    }

    /// Takes what is in the outbox to every destination and returns once each has caught
    /// up, or at `timeout`: for a run that ends (`kiln run --until-idle`, a campaign run).
    /// - Returns: the destinations that had not caught up by then.
    func drain(timeout: Duration) async -> [String] {
        guard !targets.isEmpty else { return [] }
        let done = await withTaskGroup(of: String?.self) { group -> Set<String> in
            for target in targets {
                group.addTask {
                    await self.run(target, untilCaughtUp: true)
                    return target.key
                }
            }
            // nil: the time is up.
            group.addTask { [clock] in
                try? await clock.sleep(for: timeout)
                return nil
            }
            var caughtUp = Set<String>()
            while caughtUp.count < targets.count, let finished = await group.next() {
                guard let key = finished else { break }
                caughtUp.insert(key)
            }
            group.cancelAll()
            return caughtUp
        }
        return targets.map(\.key).filter { !done.contains($0) }
    }

    func run(_ target: Target, untilCaughtUp: Bool = false) async {
        var rng = SystemRandomNumberGenerator()
        var failures = 0
        var cursor: DestinationCursor?
        var pendingCheckedAt: Duration?
        while !Task.isCancelled {
            do {
                if cursor == nil { cursor = try await store.destinationCursors()[target.key] ?? DestinationCursor(name: target.key, position: .start) }
                guard var current = cursor else { continue }
                if pendingCheckedAt.map({ clock.uptime() - $0 >= .seconds(5) }) ?? true {
                    metrics.eventsPending(target.key, try await store.outboxCount(after: current.position, cap: 10_000_000, taking: target.filter))
                    pendingCheckedAt = clock.uptime()
                }
                let batch = try await store.outboxEvents(after: current.position, limit: 1_000)
                if batch.isEmpty {
                    if untilCaughtUp { return }
                    try await clock.sleep(for: pollInterval)
                    continue
                }
                // The events it takes, up to a request's worth; the cursor moves past the
                // events it skips too.
                var chosen: [StoredEvent] = []
                var through = batch[batch.count - 1].position
                for stored in batch where Self.takes(target, stored) {
                    chosen.append(stored)
                    if chosen.count == EventDestination.batchLimit {
                        through = stored.position
                        break
                    }
                }
                if !chosen.isEmpty {
                    let body = EventBatchBody(records: try await records(chosen))
                    do {
                        try await target.sink.deliver(body)
                    } catch {
                        failures += 1
                        current.lastError = error.message
                        current.lastErrorAt = clock.now()
                        cursor = current
                        try await store.saveDestinationCursor(current)
                        logger.warning("event destination failed; retrying", metadata: [
                            "destination": "\(target.key)", "error": "\(error.message)", "failures": "\(failures)"])
                        try await clock.sleep(for: backoff.delay(afterFailures: failures, using: &rng))
                        continue
                    }
                }
                failures = 0
                current.position = through
                current.lastError = nil
                current.lastErrorAt = nil
                cursor = current
                try await store.saveDestinationCursor(current)
                if !chosen.isEmpty {
                    logger.debug("events sent", metadata: ["destination": "\(target.key)", "count": "\(chosen.count)", "through": "\(through)"])
                }
            } catch is CancellationError {
                return
            } catch {
                if Task.isCancelled { return }
                // The store failed (it will be back): wait, then read the cursor again.
                failures += 1
                logger.error("event destination could not read or save its cursor", metadata: ["destination": "\(target.key)", "error": "\(error)"])
                cursor = nil
                do { try await clock.sleep(for: backoff.delay(afterFailures: failures, using: &rng)) } catch { return }
            }
        }
    }

    /// The documented records of `events`, with each template's tags.
    func records(_ events: [StoredEvent]) async throws(KilnError) -> [EventRecord] {
        let missing = Set(events.compactMap(\.contentID)).subtracting(tags.withLock { Set($0.keys) })
        if !missing.isEmpty {
            let contents = try await store.contents(ids: Array(missing))
            tags.withLock { known in
                if known.count > 500 { known.removeAll() }
                for id in missing { known[id] = contents[id].flatMap(Self.tags(of:)) ?? [] }
            }
        }
        let known = tags.withLock { $0 }
        return events.map { stored in
            let tagList = stored.contentID.flatMap { known[$0] }
            let metadata = stored.metadata.flatMap { try? JSONDecoder().decode([String: String].self, from: Data($0)) }
            return EventRecord(id: stored.id, event: stored.event, configurationSet: stored.configurationSet ?? Self.scope(of: stored.event),
                               campaign: stored.campaign, tags: tagList?.isEmpty == false ? tagList : nil, attempt: stored.event.attempt,
                               tenant: stored.tenant, metadata: metadata?.isEmpty == false ? metadata : nil)
        }
    }

    /// The configuration set a pause or resume names.
    static func scope(of event: DeliveryEvent) -> String? {
        guard event.kind == .paused || event.kind == .resumed, let detail = event.detail, detail != "*" else { return nil }
        return detail
    }

    private struct TemplateTags: Decodable { var tags: [String]? }

    /// A template content's tags (the first Feedback-ID fields).
    static func tags(of content: StoredContent) -> [String]? {
        guard content.isTemplate else { return nil }
        return (try? JSONDecoder().decode(TemplateTags.self, from: Data(content.data)))?.tags
    }
}
