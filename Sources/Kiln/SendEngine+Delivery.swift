import Foundation
import KilnCore
import KilnSMTP
import KilnStore
import ServiceLifecycle
import Synchronization

extension SendEngine {
    /// Delivers until cancelled, gracefully shut down, or `stop()`ped. Takes the store's
    /// delivery lock (one delivering engine per store), returns messages leased by a
    /// dead engine to the queue, then leases due messages, routes them, and sends them.
    /// On the way out, transfers in flight finish and everything else stays queued.
    public func run() async throws {
        try await withGracefulShutdownHandler {
            try await deliver(until: { _, _ in false })
        } onGracefulShutdown: {
            self.stop()
        }
    }

    /// Delivers until no message is due or in flight (deferred messages whose next
    /// attempt lies in the future do not hold it), then returns. For `kiln send --wait`,
    /// `kiln demo` and tests.
    /// - Parameter settle: keep going while a deferred message is due within this time.
    /// A paused store is idle at once; messages of a paused configuration set do not
    /// hold it either.
    public func runUntilIdle(settle: Duration = .zero) async throws {
        try await deliver(until: { [self] paused, exhausted in
            if paused.contains("*") { return true }
            let refill = exhausted.values.min()
            if let refill, refill <= now() + settle { return false }
            guard let due = try store.nextDue(pausedSets: paused, excluding: Set(exhausted.keys)) else { return true }
            return due > now() + settle
        })
    }

    func deliver(until idle: @escaping @Sendable (_ paused: Set<String>, _ exhausted: [MailboxProvider: Timestamp]) throws -> Bool) async throws {
        // A stop() asked before this run started ends it at once; once it has ended,
        // the next run starts afresh.
        defer { stopping.withLock { $0 = false } }
        let lock = try DeliveryLock(storePath: store.path)
        defer { withExtendedLifetime(lock) {} }
        let recovered = try store.recoverLeases(all: true, now: now())
        if recovered > 0 { logger.info("returned messages leased by an earlier engine to the queue", metadata: ["count": "\(recovered)"]) }

        // A missing secret or key fails here, before any thread starts.
        _ = try sharedPoolCredentials
        _ = try MessageFinisher(configuration: configuration, secrets: secrets)
        let d = configuration.delivery
        let transport = SMTPTransport(
            options: .init(heloName: d.heloName, connectTimeout: .saturatingSeconds(d.connectTimeoutSeconds ?? 30),
                           transferTimeout: .saturatingSeconds(d.transferTimeoutSeconds ?? 300)),
            logger: logger)
        let session = try DeliverySession(engine: self, transport: transport)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await session.consumeResults() }
            do {
                try await session.dispatch(until: idle)
            } catch {
                await transport.shutdownGracefully()
                try? await group.waitForAll()
                session.finish()
                throw error
            }
            await transport.shutdownGracefully()
            try await group.waitForAll()
            session.finish()
        }
    }
}

/// One run of the delivery loop: the dispatcher leases and sends, the consumer records
/// results. Shared state is behind a mutex; neither awaits per message.
final class DeliverySession: Sendable {
    struct InFlight: Sendable {
        var provider: MailboxProvider
        var recipient: String
        var createdAt: Timestamp
        var attempts: Int
        var sourceIP: String?
        var viaShared: Bool
    }

    struct State {
        var router: Router
        var planner = PoolPlanner()
        var plannedAt: Timestamp?
        var savedAt: Timestamp?
        /// Providers whose capacity is used up, and until when: not leased meanwhile.
        var exhausted: [MailboxProvider: Timestamp] = [:]
        var inFlight: [MessageID: InFlight] = [:]
        var rng = SystemRandomNumberGenerator()
        var contents: [Int64: StoredContent] = [:]
    }

    let engine: SendEngine
    let transport: SMTPTransport
    let state: Mutex<State>
    let retry: RetryPolicy
    let maxInFlight: Int
    let leaseTime: Duration
    let credentials: SMTPCredentials?

    init(engine: SendEngine, transport: SMTPTransport) throws {
        self.engine = engine
        self.transport = transport
        let configuration = engine.configuration
        let overrides = configuration.providers
        var router = Router(
            pools: configuration.pools, sharedPool: configuration.sharedPool, strategies: configuration.warmupStrategies,
            now: engine.now(), profiles: { ProviderProfile.resolve($0, overrides: overrides) })
        if let saved = try? engine.store.loadShaping() {
            router.restore(saved.pairs, activePools: saved.activePools, now: engine.now())
        }
        state = Mutex(State(router: router))
        retry = RetryPolicy(maxMessageAge: configuration.maxMessageAge)
        maxInFlight = configuration.delivery.maxInFlight ?? 256
        leaseTime = .saturatingSeconds((configuration.delivery.transferTimeoutSeconds ?? 300) + 120)
        credentials = try engine.sharedPoolCredentials
        finisher = try MessageFinisher(configuration: configuration, secrets: engine.secrets)
        sharedURL = configuration.sharedPool.flatMap { SMTPURL($0.url) }
    }

    let sharedURL: SMTPURL?
    let finisher: MessageFinisher

    /// Saves the warm-up state (levels, suspensions, active IPs) to the store.
    func saveShaping(now: Timestamp) throws {
        let saved = state.withLock { state in
            state.savedAt = now
            return SavedShaping(pairs: state.router.snapshot, activePools: state.router.activePools)
        }
        try engine.store.saveShaping(saved)
    }

    /// Once an hour (and at start), the planner scales the managed pools from demand:
    /// the backlog per provider spread over a day, plus what was sent in the last hour.
    func planPools(now: Timestamp) throws {
        let due = state.withLock { state in state.plannedAt.map { now - $0 >= .seconds(3600) } ?? true }
        guard due else { return }
        var backlog: [MailboxProvider: Double] = [:]
        for count in try engine.store.counts() where count.state == .queued || count.state == .deferred || count.state == .leased {
            backlog[count.provider, default: 0] += Double(count.count) / 24
        }
        let plans = state.withLock { state -> [PoolPlan] in
            state.plannedAt = now
            var plans: [PoolPlan] = []
            for pool in state.router.poolNames {
                guard let view = state.router.poolView(pool, now: now) else { continue }
                var demand = backlog
                for ip in view.ips where ip.active {
                    for (provider, pair) in ip.pairs { demand[provider, default: 0] += pair.sentThisHour }
                }
                let plan = state.planner.plan(view, demand: demand)
                if !plan.isEmpty {
                    state.router.apply(plan, now: now)
                    plans.append(plan)
                }
            }
            return plans
        }
        for plan in plans {
            engine.logger.info("pool scaled", metadata: ["pool": "\(plan.pool)", "add": "\(plan.add)", "release": "\(plan.release)", "reason": "\(plan.reason)"])
            engine.broadcaster.publish([DeliveryEvent(kind: .poolScaled, time: now, detail: "\(plan.pool): +\(plan.add) -\(plan.release): \(plan.reason)")])
        }
    }

    var configuration: Configuration { engine.configuration }

    // MARK: Dispatching

    func dispatch(until idle: @Sendable (_ paused: Set<String>, _ exhausted: [MailboxProvider: Timestamp]) throws -> Bool) async throws {
        var paused = Set<String>()
        var pausedCheckedAt = ContinuousClock.now - .seconds(10)
        var guardCheckedAt = ContinuousClock.now - .seconds(60)
        while !engine.stopping.withLock({ $0 }) {
            try Task.checkCancellation()
            if ContinuousClock.now - guardCheckedAt > engine.reputationCheckInterval {
                try engine.enforceReputation()
                guardCheckedAt = ContinuousClock.now
                pausedCheckedAt = guardCheckedAt - .seconds(10)
            }
            if ContinuousClock.now - pausedCheckedAt > .milliseconds(250) {
                paused = try engine.store.pausedScopes()
                pausedCheckedAt = ContinuousClock.now
            }
            if paused.contains("*") {
                if transport.inFlight == 0, try idle(paused, [:]) { return }
                try await Task.sleep(for: .milliseconds(250))
                continue
            }
            let capacity = maxInFlight - transport.inFlight
            if capacity <= 0 {
                try await Task.sleep(for: .milliseconds(2))
                continue
            }
            let now = engine.now()
            try planPools(now: now)
            if state.withLock({ $0.savedAt.map { now - $0 >= .seconds(30) } ?? true }) { try saveShaping(now: now) }
            let excluded = state.withLock { state -> Set<MailboxProvider> in
                state.exhausted = state.exhausted.filter { $0.value > now }
                return Set(state.exhausted.keys)
            }
            let leased = try await engine.store.lease(limit: min(capacity, 1000), now: now, leaseUntil: now + leaseTime,
                                                      excluding: excluded, pausedSets: paused)
            if leased.isEmpty {
                if transport.inFlight == 0, try idle(paused, state.withLock { $0.exhausted }) { return }
                try await Task.sleep(for: .milliseconds(20))
                continue
            }
            try await send(leased, paused: paused, now: now)
        }
    }

    /// Saves the warm-up state on the way out.
    func finish() {
        try? saveShaping(now: engine.now())
    }

    func send(_ leased: [LeasedMessage], paused: Set<String>, now: Timestamp) async throws {
        let missing = Set(leased.map(\.contentID)).subtracting(state.withLock { Set($0.contents.keys) })
        if !missing.isEmpty {
            let loaded = try await engine.store.contents(ids: Array(missing))
            state.withLock { state in
                if state.contents.count > 10_000 { state.contents.removeAll(keepingCapacity: true) }
                state.contents.merge(loaded) { a, _ in a }
            }
        }
        var jobs: [SMTPJob] = []
        var outcomes: [Outcome] = []
        var events: [DeliveryEvent] = []
        var release: [MessageID] = []
        var deferredInBatch: [MailboxProvider: Int] = [:]
        for message in leased {
            guard let content = state.withLock({ $0.contents[message.contentID] }) else {
                outcomes.append(Outcome(id: message.id, state: .failed, countsAsAttempt: false))
                events.append(DeliveryEvent(kind: .renderingFailure, time: now, messageID: message.id, recipient: message.recipient, detail: "content \(message.contentID) is missing"))
                continue
            }
            if paused.contains(content.configurationSet) {
                release.append(message.id)
                continue
            }
            if retry.isExpired(createdAt: message.createdAt, now: now) {
                outcomes.append(Outcome(id: message.id, state: .expired, countsAsAttempt: false))
                events.append(DeliveryEvent(kind: .expired, time: now, messageID: message.id, recipient: message.recipient, provider: message.provider))
                continue
            }
            let poolName = configuration.configurationSet(named: content.configurationSet)?.pool ?? configuration.pools[0].name
            let decision = state.withLock { $0.router.route(provider: message.provider, pool: poolName, now: now) }
            let sourceIP: String?
            switch decision {
            case .deferred(let until):
                // Capacity deferral: queue behind the refill, one token interval apart,
                // and stop leasing this provider until then.
                let k = deferredInBatch[message.provider, default: 0]
                deferredInBatch[message.provider] = k + 1
                let spacing = state.withLock { state in
                    state.exhausted[message.provider] = min(state.exhausted[message.provider] ?? until, until)
                    return state.router.refillSpacing(provider: message.provider, pool: poolName, now: now)
                }
                let at = until + min(.seconds(3600), spacing * k)
                outcomes.append(Outcome(id: message.id, state: .deferred, nextAttemptAt: at, countsAsAttempt: false))
                continue
            case .shared:
                sourceIP = nil
            case .dedicated(let ip):
                sourceIP = ip
            }
            let target: Destination
            if sourceIP == nil, let sharedURL {
                target = .url(sharedURL)
            } else {
                target = await destination(for: message)
            }
            let body: [UInt8]
            do {
                body = try finisher.finish(content, message: message, time: now)
            } catch {
                outcomes.append(Outcome(id: message.id, state: .failed, countsAsAttempt: false))
                events.append(DeliveryEvent(kind: .renderingFailure, time: now, messageID: message.id, recipient: message.recipient,
                                            provider: message.provider, detail: "\(error)"))
                continue
            }
            switch target {
            case .url(let url):
                let profile = ProviderProfile.resolve(message.provider, overrides: configuration.providers)
                let viaShared = sourceIP == nil
                jobs.append(SMTPJob(
                    id: message.id, destination: url, sourceIP: sourceIP, mailFrom: "b+\(message.id)@\(content.envelopeDomain)",
                    recipient: message.recipient, body: body,
                    maxConnections: viaShared ? 8 : connectionLimit(message.provider, profile: profile),
                    messagesPerConnection: viaShared ? 100 : profile.messagesPerConnection,
                    credentials: viaShared ? credentials : nil,
                    tls: configuration.delivery.tls ?? .opportunistic))
                state.withLock {
                    $0.inFlight[message.id] = InFlight(provider: message.provider, recipient: message.recipient, createdAt: message.createdAt,
                                                       attempts: message.attempts, sourceIP: sourceIP, viaShared: viaShared)
                }
            case .failed(let reply):
                let (outcome, event) = resolve(message: message, reply: reply, sourceIP: nil, now: now)
                outcomes.append(outcome)
                events.append(event)
            }
        }
        if !release.isEmpty { try await engine.store.release(release) }
        if !outcomes.isEmpty {
            try await engine.store.record(outcomes, events: events, now: now)
            engine.broadcaster.publish(events)
        }
        transport.send(jobs)
    }

    func connectionLimit(_ provider: MailboxProvider, profile: ProviderProfile) -> Int {
        configuration.providers?[provider.id]?.maxConnections
            ?? (ProviderProfile.builtIn[provider] == nil ? configuration.delivery.maxConnectionsPerDestination ?? profile.maxConnections : profile.maxConnections)
    }

    /// The SMTP destination of a message: its provider's route, else the `*` route, else
    /// (MX mode) the recipient domain's most preferred MX on port 25. A failure is a
    /// local reply: 5.1.2 for a domain that does not exist, 4.4.3 for a DNS failure.
    func destination(for message: LeasedMessage) async -> Destination {
        if let route = configuration.route(for: message.provider), let url = SMTPURL(route) { return .url(url) }
        let domain = String(message.recipient[message.recipient.index(after: message.recipient.lastIndex(of: "@")!)...])
        switch await engine.mx.lookup(domain) {
        case .hosts(let hosts):
            if let first = hosts.first, let url = SMTPURL("smtp://\(first):25") { return .url(url) }
            return .failed(SMTPReply(code: 451, enhancedStatus: "4.4.3", text: "kiln: no usable MX host for \(domain)", isLocal: true))
        case .noSuchDomain:
            return .failed(SMTPReply(code: 550, enhancedStatus: "5.1.2", text: "kiln: the domain \(domain) does not exist or accepts no mail", isLocal: true))
        case .temporaryFailure:
            return .failed(SMTPReply(code: 451, enhancedStatus: "4.4.3", text: "kiln: DNS lookup of \(domain) failed", isLocal: true))
        }
    }

    enum Destination {
        case url(SMTPURL)
        case failed(SMTPReply)
    }

    // MARK: Results

    func consumeResults() async throws {
        for await _ in transport.resultsReady {
            try await record(transport.takeResults())
        }
        try await record(transport.takeResults())
    }

    func record(_ results: [SMTPResult]) async throws {
        guard !results.isEmpty else { return }
        let now = engine.now()
        var outcomes: [Outcome] = []
        var events: [DeliveryEvent] = []
        var release: [MessageID] = []
        outcomes.reserveCapacity(results.count)
        for result in results {
            guard let info = state.withLock({ $0.inFlight.removeValue(forKey: result.id) }) else { continue }
            guard let reply = result.reply else {
                release.append(result.id)
                continue
            }
            let message = LeasedMessage(id: result.id, contentID: 0, provider: info.provider, recipient: info.recipient, variables: nil, createdAt: info.createdAt, attempts: info.attempts)
            let (outcome, event) = resolve(message: message, reply: reply, sourceIP: info.viaShared ? nil : result.sourceIP, now: now,
                                           shared: info.viaShared)
            if !info.viaShared, event.kind == .throttle || event.kind == .block, reply.classification.scope == .ip || event.kind == .block {
                transport.withdraw(destination: result.destination, sourceIP: result.sourceIP)
            }
            outcomes.append(outcome)
            events.append(event)
        }
        if !release.isEmpty { try await engine.store.release(release) }
        try await engine.store.record(outcomes, events: events, now: now)
        engine.broadcaster.publish(events)
    }

    /// The outcome and event of an attempt that ended with `reply`; feeds the router.
    func resolve(message: LeasedMessage, reply: SMTPReply, sourceIP: String?, now: Timestamp, shared: Bool = false) -> (Outcome, DeliveryEvent) {
        let disposition = state.withLock { state -> AttemptDisposition in
            var resumeAt: Timestamp?
            if let ip = sourceIP {
                resumeAt = state.router.record(reply, ip: ip, provider: message.provider, now: now)
            }
            return AttemptDisposition.decide(reply: reply, failedAttempts: message.attempts + 1, createdAt: message.createdAt, now: now,
                                             resumeAt: resumeAt, policy: retry, using: &state.rng)
        }
        let outcome: Outcome
        let kind: DeliveryEvent.Kind
        switch disposition {
        case .delivered:
            outcome = Outcome(id: message.id, state: .delivered, reply: reply, sourceIP: shared ? "shared" : sourceIP)
            kind = .delivery
        case .bounced:
            outcome = Outcome(id: message.id, state: .bounced, reply: reply, sourceIP: sourceIP)
            kind = .bounce
        case .retry(let at):
            outcome = Outcome(id: message.id, state: .deferred, nextAttemptAt: at, reply: reply, sourceIP: sourceIP)
            switch reply.classification.replyClass {
            case .throttle: kind = .throttle
            case .permanentPolicy: kind = .block
            default: kind = .deliveryDelay
            }
        case .expired:
            outcome = Outcome(id: message.id, state: .expired, reply: reply, sourceIP: sourceIP)
            kind = .expired
        }
        let event = DeliveryEvent(kind: kind, time: now, messageID: message.id, recipient: message.recipient, provider: message.provider,
                                  sourceIP: shared ? "shared" : sourceIP, reply: reply)
        return (outcome, event)
    }
}
