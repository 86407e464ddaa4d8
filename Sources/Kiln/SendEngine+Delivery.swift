import Foundation
import KilnConfiguration
import KilnCore
import KilnDNS
import KilnMessage
import KilnSMTP
import KilnStore
import Logging
import ServiceLifecycle
import Synchronization

extension SendEngine {
    /// Delivers until cancelled, gracefully shut down, or `stop()`ped. Takes the store's
    /// delivery lock (one delivering engine per store), returns messages leased by a
    /// dead engine to the queue, then leases due messages, routes them, and sends them.
    /// On the way out, transfers in flight finish and everything else stays queued.
    ///
    /// Alongside delivery it takes the stored events to the configured destinations
    /// (`EventRelay`), purges what retention allows, and refreshes the gauges; these stop
    /// when delivery does (destinations resume from their cursors on the next run).
    public func run() async throws {
        let relay = try eventRelay()
        try await withGracefulShutdownHandler {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await relay.run() }
                group.addTask { await self.retainForever() }
                group.addTask { await self.refreshGaugesForever() }
                defer { group.cancelAll() }
                try await deliver(until: { _, _ in false })
            }
        } onGracefulShutdown: {
            self.stop()
        }
    }

    /// Takes the events still in the outbox to the configured destinations, for a run
    /// that ends (`run` does it all along): returns once every destination has caught up,
    /// or at `timeout`, with the destinations that had not (they go on from their cursor
    /// on the next run).
    public func deliverPendingEvents(timeout: Duration = .seconds(30)) async throws -> [String] {
        return await try eventRelay().drain(timeout: timeout)
    }

    /// The relay of the configured event destinations, with their secrets as loaded.
    func eventRelay() throws(KilnError) -> EventRelay {
        EventRelay(targets: try EventRelay.targets(of: configuration, secrets: try loadedSecrets(for: .delivery), files: secrets),
                   store: store, logger: logger, metrics: metrics, clock: clock)
    }

    /// `deliverPendingEvents` for a run that ends: a destination that did not catch up is
    /// a warning, and goes on from its cursor on the next run.
    public func deliverEventsBeforeExit(logger: Logger? = nil) async throws {
        for key in try await deliverPendingEvents(timeout: .seconds(30)) {
            (logger ?? self.logger).warning("event destination did not catch up before exit; it goes on from its cursor on the next run", metadata: ["destination": "\(key)"])
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
            guard let due = try await store.nextDue(pausedSets: paused, excluding: Set(exhausted.keys)) else { return true }
            return due > now() + settle
        })
    }

    /// Whether the run is done: given the paused scopes and the providers whose capacity
    /// is used up (with their refills), once nothing is in flight.
    typealias IdleCheck = @Sendable (_ paused: Set<String>, _ exhausted: [MailboxProvider: Timestamp]) async throws -> Bool

    func deliver(until idle: @escaping IdleCheck) async throws {
        // A stop() asked before this run started ends it at once; once it has ended,
        // the next run starts afresh.
        defer { stopping.withLock { $0 = false } }
        try await requireAuthentication()
        let claim = try await store.beginDelivery(node: node, now: now())
        defer { withExtendedLifetime(claim) {} }
        if claim.recovered > 0 {
            logger.info("returned messages leased by an earlier engine to the queue", metadata: ["count": "\(claim.recovered)"])
        }

        // Keys and secrets were read once (`loadedSecrets`): a missing one fails here,
        // before any thread starts.
        let loaded = try loadedSecrets(for: .delivery)
        let finisher = MessageFinisher(configuration: configuration, secrets: loaded)
        for (key, library) in finisher.rsaLibraries.sorted(by: { $0.key < $1.key }) {
            logger.info("DKIM RSA signatures through \(library.rawValue)", metadata: ["key": "\(key)"])
        }
        let credentials = loaded.sharedRelay
        let saved = await savedShaping()
        let gate = StartGate(clock: clock)
        let readings = ReplyReadings(reader: ReplyReader(classifier: configuration.replyClassifier))
        let session = DeliverySession(engine: self, transport: makeTransport(startGate: gate, readings: readings), saved: saved,
                                      finisher: finisher, credentials: credentials, startGate: gate, readings: readings)
        let transport = session.transport
        liveSession.withLock { $0 = session }
        delivering.withLock { $0 = true }
        defer {
            delivering.withLock { $0 = false }
            liveSession.withLock { $0 = nil }
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            // Results are recorded until the transport has returned every job, even when
            // the run is cancelled (a graceful shutdown out of time): the transfers it cuts
            // off come back unsent and their messages return to the queue, not left leased.
            let consumer = Task { try await session.consumeResults() }
            group.addTask { try await consumer.value }
            do {
                try await session.dispatch(until: idle)
                try await session.drainFinishing()
            } catch {
                try? await session.drainFinishing()
                await transport.shutdownGracefully()
                _ = await consumer.result
                await Task { await session.finish() }.value
                throw error
            }
            await transport.shutdownGracefully()
            try await group.waitForAll()
            await Task { await session.finish() }.value
        }
    }
}

extension SendEngine {
    /// The warm-up state saved by the last run. An unreadable one is logged and ignored:
    /// the run starts from the configured state and the saved row stays as it is until
    /// the run saves its own.
    func savedShaping() async -> SavedShaping? {
        do {
            return try await store.loadShaping()
        } catch {
            logger.error("the saved warm-up state could not be read; starting from the configured state", metadata: ["error": "\(error)"])
            return nil
        }
    }
}

/// One run of the delivery loop: the dispatcher leases, decides and routes; the finishing
/// pool renders and signs on threads of its own (one per core) and hands the messages to
/// the transport in lease order; the consumer records results. Up to `maxInFlight`
/// messages are leased ahead of the transfers, so that rendering overlaps sending.
/// Shared state is behind a mutex; nobody awaits per message.
final class DeliverySession: Sendable {
    struct InFlight: Sendable {
        /// The epoch of the lease it is sent under (`MessageLease`).
        var epoch: Int64
        /// The heartbeat found the lease lost (it expired and was taken back while this
        /// run stalled): a job not yet with the transport is dropped, not started.
        var lost = false
        var provider: MailboxProvider
        var recipient: String
        var createdAt: Timestamp
        var attempts: Int
        var path: SendingPath
        /// For an operator rule that pauses the message's configuration set.
        var configurationSet: String
        /// When it was leased for this attempt, on the engine clock's `uptime` (the
        /// attempt's duration runs from here).
        var startedAt: Duration
        /// Handed to the finishing pool (and so on to the transport).
        var handed = false
        /// Its result was taken from the transport; its outcome is being stored.
        var recording = false
    }

    struct State {
        var dispatcher: Dispatcher
        var savedAt: Timestamp?
        var inFlight: [MessageID: InFlight] = [:]
        var rng = SystemRandomNumberGenerator()
        var contents: [Int64: StoredContent] = [:]
        /// The bytes of `contents`.
        var contentBytes = 0
        /// Nodes delivering from the store (1 for SQLite): this node's share of the limits
        /// that hold for the whole pool is 1/liveNodes.
        var liveNodes = 1
        /// Messages handed to the finishing pool, not yet to the transport.
        var finishing = 0
        /// Results taken from the transport whose outcomes are not stored yet.
        var recording = 0
        /// Leases that the last audit found with nothing behind them (`auditLeases`).
        var unbacked: Set<MessageLease> = []
        /// This node's use of its slice of the shared relay's daily limit.
        var relay = RelayUse()
        /// A named node's providers' pool-wide connection limits (those it sent to), and
        /// its slices of them (`renewConnectionSlices`).
        var connectionLimits: [String: Int] = [:]
        var connectionSlices: [String: Int] = [:]
        /// Messages that could not be rendered, to be recorded by the dispatcher.
        var renderingFailures: [(Outcome, DeliveryEvent)] = []
        /// Authentication failures per configuration set (`feedback.pauseOnAuthenticationFailures`).
        var authentication: AuthenticationWatch
    }

    /// The content cache's bounds: when a batch would take it past either, it keeps only
    /// what that batch needs.
    static let contentCacheEntries = 10_000
    static let contentCacheBytes = 256 * 1024 * 1024

    /// A message to render and sign, with its job (all but the body).
    struct FinishWork: Sendable {
        var job: SMTPJob
        var content: StoredContent
        var message: LeasedMessage
    }

    let engine: SendEngine
    let transport: any MailTransport
    let state: Mutex<State>
    let maxInFlight: Int
    /// The fewest messages leased at once while transfers are running.
    let leaseBatch: Int
    /// How long a lease lasts without a heartbeat; the run renews its leases every quarter of it.
    let leaseTime: Duration
    let heartbeat: NodeHeartbeat
    /// Tells the transport which queued jobs may still start (`StartGate`): none once
    /// the leases have not been renewed for a lease time, nor those whose lease was lost.
    let startGate: StartGate
    /// Configuration sets whose pool has no IP on this node: other nodes send them.
    let otherNodesSets: Set<String>
    let credentials: SMTPCredentials?

    init(engine: SendEngine, transport: any MailTransport, saved: SavedShaping?, finisher: MessageFinisher, credentials: SMTPCredentials?,
         startGate: StartGate, readings: ReplyReadings) {
        self.engine = engine
        self.transport = transport
        self.startGate = startGate
        self.readings = readings
        let configuration = engine.sendingConfiguration
        self.configuration = configuration
        routeHops = (configuration.delivery.routes ?? [:]).mapValues { $0.urls.compactMap(SMTPURL.init).map { SMTPHop(url: $0) } }
        let overrides = configuration.providers
        let router = Router(
            pools: configuration.pools, sharedPool: configuration.sharedPool.map { Router.SharedPool(dailyLimit: $0.dailyLimit) },
            strategies: configuration.warmupStrategies,
            now: engine.now(), profiles: { ProviderProfile.resolve($0, overrides: overrides) })
        var dispatcher = Dispatcher(router: router, retry: RetryPolicy(initial: .seconds(configuration.delivery.retryInitialSeconds ?? 60),
                                                                       maxMessageAge: configuration.maxMessageAge),
                                    reader: readings.reader)
        if let saved {
            dispatcher.restore(saved.pairs, activePools: saved.activePools, paces: saved.paces ?? [], now: engine.now())
        }
        // The shared relay's daily limit holds for the whole cluster: nothing goes through
        // it until the first heartbeat has taken this node's slice from the store.
        if configuration.sharedPool?.dailyLimit != nil { dispatcher.setSharedAllowance(0) }
        var initial = State(dispatcher: dispatcher,
                            authentication: AuthenticationWatch(limit: engine.configuration.feedbackSettings.authenticationFailureLimit))
        // A named node takes its slices of the built-in and configured providers' connection
        // limits at its first heartbeat, before it sends (others as it meets them).
        if engine.node != nil {
            let configured: [MailboxProvider] = (configuration.providers ?? [:]).keys.map { MailboxProvider($0) }
            for provider in Set(ProviderProfile.builtIn.keys).union(configured) {
                initial.connectionLimits[provider.id] = Self.poolConnectionLimit(provider, configuration: configuration)
            }
        }
        state = Mutex(initial)
        maxInFlight = configuration.delivery.maxInFlight ?? 256
        leaseBatch = max(1, min(100, maxInFlight / 4))
        leaseTime = .seconds(configuration.store.leaseSeconds ?? 60)
        heartbeat = NodeHeartbeat(owner: engine.nodeID, node: engine.node, ips: configuration.pools.flatMap(\.ips))
        otherNodesSets = configuration.setsWithoutIPs
        self.credentials = credentials
        self.finisher = finisher
        sharedURL = configuration.sharedPool.flatMap { SMTPURL($0.url) }
        pool = FinishingPool()
        finished = Wakeup(clock: engine.clock)
        let transport = transport
        sequencer = Sequencer { jobs in transport.send(jobs) }
    }

    deinit { pool.stop() }

    let pool: FinishingPool
    let sequencer: Sequencer<[SMTPJob]>
    /// Poked each time the finishing pool hands a batch to the transport (`drainFinishing`).
    let finished: Wakeup

    /// Messages leased and not yet recorded: being finished, waiting to be recorded as
    /// rendering failures, or with the transport.
    var inFlight: Int {
        // Under the state lock, as `takeRecording` moves results from the transport's
        // count to `recording`: a result is counted once until its outcome is stored.
        state.withLock { transport.inFlight + $0.finishing + $0.renderingFailures.count + $0.recording }
    }

    /// Takes the transport's results, counted as `recording` until `record` has stored
    /// them: without it, the room they left was leased again while their outcomes were
    /// still being written, and a node could hold more than `maxInFlight` leases (58 of
    /// 32 seen when a frozen node's leases were counted).
    func takeRecording() -> [SMTPResult] {
        state.withLock { state in
            let results = transport.takeResults()
            state.recording += results.count
            for result in results { state.inFlight[result.id]?.recording = true }
            return results
        }
    }

    /// Records results taken with `takeRecording`.
    func recordTaken(_ results: [SMTPResult]) async throws {
        defer {
            state.withLock { $0.recording -= results.count }
            // Room in flight again, and perhaps retries due: the loop leases at once.
            if !results.isEmpty { engine.wakeup.poke() }
        }
        try await record(results)
    }

    let sharedURL: SMTPURL?
    /// Every reply read once, by the dispatcher's `ReplyReader` (the same one), as it
    /// arrives: its lane orders go back to the transport; its reading waits here for `record`.
    let readings: ReplyReadings
    let finisher: MessageFinisher

    /// Saves the warm-up state (levels, suspensions, active IPs, learned paces) to the store.
    func saveShaping(now: Timestamp) async throws {
        let saved = state.withLock { state in
            state.savedAt = now
            return SavedShaping(pairs: state.dispatcher.router.snapshot, activePools: state.dispatcher.router.activePools,
                                ownedIPs: engine.node == nil ? nil : heartbeat.ips, paces: state.dispatcher.router.learnedPaces)
        }
        try await engine.store.saveShaping(saved)
    }

    /// Once an hour (and at start), the dispatcher scales the managed pools from demand.
    func planPools(now: Timestamp) async throws {
        guard state.withLock({ $0.dispatcher.isPlanDue(now: now) }) else { return }
        // The backlog is a scan of the whole queue (seconds at 10 million): only a managed
        // pool needs it.
        var backlog: [MailboxProvider: Int] = [:]
        let counts = configuration.pools.contains { ($0.scaling ?? .managed) == .managed } ? try await engine.store.counts() : []
        for count in counts where count.state == .queued || count.state == .deferred || count.state == .leased {
            backlog[count.provider, default: 0] += count.count
        }
        let peers = try await poolPeers(now: now)
        var plans = state.withLock { $0.dispatcher.planPools(backlog: backlog, peers: peers, now: now) }
        // In a cluster, IPs added are claimed from the pool's cluster-wide maxIPs: what
        // another node took meanwhile is given back at once.
        for (index, plan) in plans.enumerated() where !plan.add.isEmpty && peers[plan.pool] != nil {
            let active = state.withLock { $0.dispatcher.router.activeIPs(pool: plan.pool).count }
            let granted = try await claimActiveIPs(plan.pool, count: active, now: now)
            let excess = min(plan.add.count, active - granted)
            guard excess > 0 else { continue }
            let giveBack = PoolPlan(pool: plan.pool, release: Array(plan.add.suffix(excess)))
            state.withLock { $0.dispatcher.apply(giveBack, now: now) }
            plans[index].add.removeLast(excess)
            plans[index].reason += "; \(excess) fewer: the cluster's other nodes hold the rest of the pool's maxIPs"
        }
        for plan in plans where !plan.isEmpty {
            engine.logger.info("pool scaled", metadata: ["pool": "\(plan.pool)", "add": "\(plan.add)", "release": "\(plan.release)", "reason": "\(plan.reason)"])
            engine.broadcaster.publish([DeliveryEvent(kind: .poolScaled, time: now, detail: "\(plan.pool): +\(plan.add) -\(plan.release): \(plan.reason)")])
        }
    }

    /// The engine's sending configuration (this node's part of it), read once.
    let configuration: Configuration
    /// The hops of each configured route (by provider id, `*` for the rest), parsed once.
    let routeHops: [String: [SMTPHop]]

    /// Renews this run's leases, says the node is alive, and takes back the leases of
    /// nodes that stopped renewing theirs. Leases of this run that the store no longer
    /// holds for it (it stalled past them: another node may have the messages now) are
    /// marked lost: what is still being finished for them is dropped, not sent; what the
    /// transport already holds runs, and its outcomes are recorded as stale.
    func beat(now: Timestamp) async throws {
        let renewing = engine.clock.uptime()
        if let limit = configuration.sharedPool?.dailyLimit { try await renewRelaySlice(limit: limit, now: now) }
        var beat = heartbeat
        beat.holding = state.withLock { $0.inFlight.filter { !$0.value.lost }.map { MessageLease(id: $0.key, epoch: $0.value.epoch) } }
        let result = try await engine.store.heartbeat(beat, now: now, leaseUntil: now + leaseTime)
        // The leases now run to a lease time from when they were renewed: queued jobs may
        // start until then, not after (a run that cannot renew stops starting transfers).
        startGate.leasesValid(until: renewing + leaseTime)
        startGate.markLost(result.lost.map(\.id))
        if result.recovered > 0 {
            engine.logger.info("took back messages whose lease expired (their node stopped)", metadata: ["count": "\(result.recovered)"])
        }
        state.withLock { $0.liveNodes = result.liveNodes }
        try await renewConnectionSlices(now: now)
        try await publishActiveIPs(now: now)
        try await auditLeases()
        let lost = state.withLock { state in
            var marked = 0
            // Only what is still in flight under that epoch: a message recorded meanwhile
            // left `inFlight` before its outcome reached the store.
            for lease in result.lost where state.inFlight[lease.id]?.epoch == lease.epoch {
                state.inFlight[lease.id]?.lost = true
                marked += 1
            }
            return marked
        }
        if lost > 0 {
            engine.logger.warning(
                "this run lost leases it still held (it stalled past them): jobs not yet with the transport are dropped; transfers already with it are recorded as stale outcomes",
                metadata: ["count": "\(lost)"])
        }
    }

    /// What this node sent through the shared relay in the current day, and the
    /// allowance it last gave the router (what the router has below it was spent since).
    struct RelayUse {
        var window = ""
        var used = 0
        var allowance = 0
        /// Whether the store has told this run what the node used (a run that has not
        /// asked yet does not know what its predecessor spent).
        var known = false

        /// Counts what was spent of `allowance` down to the router's `remaining`.
        mutating func count(remaining: Int?) {
            used += max(0, allowance - (remaining ?? 0))
            allowance = remaining ?? 0
        }
    }

    /// The shared relay's daily limit holds for the whole cluster: each heartbeat reports
    /// what this node sent through the relay today and takes a slice of what is left
    /// (`MessageStore.takeQuota`: at most a quarter hour's share of the limit beyond what
    /// it used, never past the limit with the other nodes' live slices). A node that
    /// stops renewing its slice gives its unused part back after the lease time.
    func renewRelaySlice(limit: Int, now: Timestamp, want: Int? = nil) async throws {
        let window = QuotaSlice.day(of: now)
        let used = state.withLock { state -> Int? in
            state.relay.count(remaining: state.dispatcher.router.sharedAllowance)
            if state.relay.window != window { state.relay = RelayUse(window: window, known: state.relay.known) }
            return state.relay.known ? state.relay.used : nil
        }
        let slice = try await engine.store.takeQuota(Self.relayQuota, window: window, node: engine.node ?? "local", used: used,
                                                     want: want ?? max(1, limit / 96), limit: limit, now: now, until: now + leaseTime)
        state.withLock { state in
            state.relay.known = true
            // What was spent while the store answered counts too.
            state.relay.count(remaining: state.dispatcher.router.sharedAllowance)
            state.relay.used = max(state.relay.used, slice.used)
            let allowance = max(0, slice.granted - state.relay.used)
            state.relay.allowance = allowance
            state.dispatcher.setSharedAllowance(allowance)
        }
    }

    /// The name of the shared relay's daily limit among the store's quotas.
    static let relayQuota = "sharedRelay.daily"

    /// The longest the loop waits between two empty leases.
    static let longestIdleWait = Duration.milliseconds(500)

    /// The next idle wait after `last`: twice as long, from 20 ms up to `longestIdleWait`,
    /// and never past `nextToken` (the time until a waiting provider's next token).
    static func idleWait(after last: Duration, nextToken: Duration?) -> Duration {
        let doubled = min(max(last * 2, .milliseconds(20)), longestIdleWait)
        guard let nextToken else { return doubled }
        return max(.milliseconds(1), min(doubled, nextToken))
    }

    /// Beats when a quarter of the lease time has passed since `beatAt` (nil: never
    /// beat), on the engine clock's `uptime`.
    func beatIfDue(_ beatAt: inout Duration?) async throws {
        if let last = beatAt, engine.clock.uptime() - last < leaseTime / 4 { return }
        try await beat(now: engine.now())
        engine.storeWrites()
        beatAt = engine.clock.uptime()
    }

    /// How often the run reads the pauses from the store (a pause or a resume through
    /// this engine is read at once; one from another process or node within this).
    static let pauseCheckInterval = Duration.milliseconds(250)

    // MARK: Dispatching

    func dispatch(until idle: SendEngine.IdleCheck) async throws {
        // Every interval is measured on the engine's clock (nil: not done yet), and every
        // wait is a `Wakeup`: a submission, a pause or resume through this engine, recorded
        // results or a stop end it at once; the clock ends it at its timeout.
        let clock = engine.clock
        var paused = Set<String>()
        var pausedCheckedAt: Duration?
        var guardCheckedAt: Duration?
        var beatAt: Duration?
        // A store that cannot write for now (a full disk, an unreachable database) is
        // waited out: what is in flight stays, and the loop tries again with a backoff.
        var outageWait = Duration.zero
        // Nothing to lease: the loop waits, longer each time up to `longestIdleWait`, and
        // never past the next token of a provider that waits for one; a submission, a stop
        // or recorded results end the wait at once. (An idle node asked the store 50 times
        // a second before.)
        var idleWait = Duration.zero
        while !engine.stopping.withLock({ $0 }) {
            do {
                try Task.checkCancellation()
                try await beatIfDue(&beatAt)
                if guardCheckedAt.map({ clock.uptime() - $0 >= engine.reputationCheckInterval }) ?? true {
                    try await engine.enforceReputation()
                    guardCheckedAt = clock.uptime()
                    pausedCheckedAt = nil
                }
                if engine.pausesChanged.exchange(false, ordering: .relaxed) { pausedCheckedAt = nil }
                if pausedCheckedAt.map({ clock.uptime() - $0 >= Self.pauseCheckInterval }) ?? true {
                    paused = try await engine.store.pausedScopes().union(otherNodesSets)
                    pausedCheckedAt = clock.uptime()
                    engine.pausedAll.withLock { [paused] in $0 = paused.contains("*") }
                    engine.setPausedGauges(paused)
                }
                try await recordRenderingFailures()
                if paused.contains("*") {
                    if inFlight == 0, try await idle(paused, [:]) { return }
                    _ = await engine.wakeup.wait(upTo: Self.pauseCheckInterval)
                    try Task.checkCancellation()
                    continue
                }
                let capacity = maxInFlight - inFlight
                // Lease in batches: while transfers run, wait until a quarter of the room is free,
                // so that the store (shared by nodes on PostgreSQL) sees few, large leases.
                // Recorded results end the wait; the timeout keeps the heartbeat going.
                if capacity <= 0 || (inFlight > 0 && capacity < leaseBatch) {
                    _ = await engine.wakeup.wait(upTo: leaseTime / 8)
                    try Task.checkCancellation()
                    continue
                }
                let now = engine.now()
                try await planPools(now: now)
                if state.withLock({ $0.savedAt.map { now - $0 >= .seconds(30) } ?? true }) { try await saveShaping(now: now) }
                let excluded = Set(state.withLock { $0.dispatcher.exhaustedProviders(now: now) }.keys)
                // Again right before leasing: a run that stalled since the top of the loop
                // finds its lost leases before it takes new ones.
                try await beatIfDue(&beatAt)
                let leased = try await engine.store.lease(limit: min(capacity, 1000), owner: engine.nodeID, now: now, leaseUntil: now + leaseTime,
                                                          excluding: excluded, pausedSets: paused)
                engine.storeWrites()
                outageWait = .zero
                if leased.isEmpty {
                    let exhausted = state.withLock { $0.dispatcher.exhaustedProviders(now: now) }
                    if inFlight == 0, try await idle(paused, exhausted) { return }
                    idleWait = Self.idleWait(after: idleWait, nextToken: exhausted.values.min().map { $0 - now })
                    if await engine.wakeup.wait(upTo: idleWait) { idleWait = .zero }
                    try Task.checkCancellation()
                    continue
                }
                idleWait = .zero
                try await send(leased, paused: paused, now: now)
            } catch let error as KilnError where error.isTemporary {
                outageWait = SendEngine.storeOutageWait(after: outageWait)
                engine.storeUnavailable(error, retryingIn: outageWait)
                try await clock.sleep(for: outageWait)
            }
        }
    }

    /// Saves the warm-up state on the way out, and reports what this run sent through
    /// the shared relay (its unused slice goes back at once).
    func finish() async {
        do {
            try await saveShaping(now: engine.now())
        } catch {
            engine.logger.error("the warm-up state could not be saved", metadata: ["error": "\(error)"])
        }
        do {
            try await renewConnectionSlices(now: engine.now(), want: 0)
        } catch {
            engine.logger.error("the connection slices could not be given back; they return when their lease expires",
                                metadata: ["error": "\(error)"])
        }
        if let limit = configuration.sharedPool?.dailyLimit {
            do {
                try await renewRelaySlice(limit: limit, now: engine.now(), want: 0)
            } catch {
                engine.logger.error("the shared relay's use could not be reported; its slice returns when its lease expires",
                                    metadata: ["error": "\(error)"])
            }
        }
    }

    func send(_ leased: [LeasedMessage], paused: Set<String>, now: Timestamp) async throws {
        let needed = Set(leased.map(\.contentID))
        let missing = needed.subtracting(state.withLock { Set($0.contents.keys) })
        if !missing.isEmpty {
            let loaded = try await engine.store.contents(ids: Array(missing))
            state.withLock { state in
                // Bounded in count and in bytes: a batch of large messages cannot pile up.
                let loadedBytes = loaded.values.reduce(0) { $0 + $1.data.count }
                if state.contents.count > Self.contentCacheEntries || state.contentBytes + loadedBytes > Self.contentCacheBytes {
                    // What this batch needs stays.
                    state.contents = state.contents.filter { needed.contains($0.key) }
                    state.contentBytes = state.contents.values.reduce(0) { $0 + $1.data.count }
                }
                for (id, content) in loaded where state.contents[id] == nil {
                    state.contents[id] = content
                    state.contentBytes += content.data.count
                }
            }
        }
        var work: [FinishWork] = []
        var outcomes: [Outcome] = []
        var events: [DeliveryEvent] = []
        var release: [MessageLease] = []
        let owner = engine.nodeID
        await resolveDomains(of: leased)
        state.withLock { $0.dispatcher.beginBatch() }
        for message in leased {
            // Leased again while an attempt of an earlier lease is still under way: that
            // lease was lost (this run stalled past it). The attempt under way stays the
            // only one; this lease waits for a later turn.
            let earlier = state.withLock { state -> Int64? in
                guard let held = state.inFlight[message.id] else { return nil }
                state.inFlight[message.id]?.lost = true
                return held.epoch
            }
            if let earlier {
                engine.logger.warning("leased a message again while an attempt of its lost lease is under way; deferred", metadata: [
                    "message": "\(message.id)", "epoch": "\(message.epoch)", "earlierEpoch": "\(earlier)"])
                outcomes.append(Outcome(id: message.id, state: .deferred, nextAttemptAt: now + leaseTime, countsAsAttempt: false,
                                        epoch: message.epoch, owner: owner))
                continue
            }
            guard let content = state.withLock({ $0.contents[message.contentID] }) else {
                outcomes.append(Outcome(id: message.id, state: .failed, countsAsAttempt: false, epoch: message.epoch, owner: owner))
                events.append(DeliveryEvent(kind: .renderingFailure, time: now, messageID: message.id, recipient: message.recipient, detail: "content \(message.contentID) is missing"))
                continue
            }
            if paused.contains(content.configurationSet) {
                release.append(message.lease)
                continue
            }
            let poolName = configuration.configurationSet(named: content.configurationSet)?.pool ?? configuration.pools[0].name
            let decision = state.withLock { state -> Dispatcher.Decision in
                let decision = state.dispatcher.decide(provider: message.provider, pool: poolName, createdAt: message.createdAt, now: now)
                guard case .deferral(let until) = decision else { return decision }
                return .deferral(until: state.dispatcher.deferral(provider: message.provider, pool: poolName, until: until, now: now,
                                                                  createdAt: message.createdAt))
            }
            let path: SendingPath
            switch decision {
            case .expire:
                outcomes.append(Outcome(id: message.id, state: .expired, countsAsAttempt: false, epoch: message.epoch, owner: owner))
                events.append(DeliveryEvent(kind: .expired, time: now, messageID: message.id, recipient: message.recipient, provider: message.provider))
                continue
            case .deferral(let at):
                outcomes.append(Outcome(id: message.id, state: .deferred, nextAttemptAt: at, countsAsAttempt: false, epoch: message.epoch, owner: owner))
                continue
            case .send(let chosen):
                path = chosen
            }
            let target: Destination
            if path == .shared, let sharedURL {
                target = .hops([SMTPHop(url: sharedURL)])
            } else {
                target = await destination(for: message, sourceIP: path.ip)
            }
            switch target {
            case .hops(let hops):
                let viaShared = path == .shared
                // The provider's limits, as lowered by its session and connection limit replies
                // (of this node's share of the pool-wide connection limit).
                let configured = connectionLimit(viaShared ? nil : message.provider)
                let (connections, perConnection) = state.withLock { state in
                    state.inFlight[message.id] = InFlight(epoch: message.epoch, provider: message.provider, recipient: message.recipient,
                                                          createdAt: message.createdAt, attempts: message.attempts, path: path,
                                                          configurationSet: content.configurationSet, startedAt: engine.clock.uptime())
                    return (viaShared ? configured : state.dispatcher.connections(for: message.provider, configured: configured),
                            state.dispatcher.messagesPerConnection(for: message.provider))
                }
                var job = SMTPJob(
                    id: message.id, destination: hops[0].url, sourceIP: path.ip,
                    mailFrom: ReturnPath.address(for: message.id, domain: content.envelopeDomain, key: finisher.returnPathKey),
                    recipient: message.recipient, body: [],
                    maxConnections: connections,
                    messagesPerConnection: viaShared ? 100 : perConnection,
                    credentials: viaShared ? credentials : nil,
                    tls: configuration.delivery.tls ?? .opportunistic, provider: message.provider, priority: message.priority)
                job.route(to: hops)
                job.verifyTLS = configuration.delivery.tlsVerify == .verify
                work.append(FinishWork(job: job, content: content, message: message))
                events.append(DeliveryEvent(kind: .send, time: now, messageID: message.id, recipient: message.recipient, provider: message.provider,
                                            via: path, attempt: message.attempts + 1))
                if viaShared {
                    // The pool had no token for it: it leaves through the shared relay.
                    events.append(DeliveryEvent(kind: .spillover, time: now, messageID: message.id, recipient: message.recipient,
                                                provider: message.provider, via: path, attempt: message.attempts + 1))
                    engine.metrics.spillover(provider: message.provider.id)
                }
            case .failed(let reply):
                // A local reply (no such domain, DNS failure): nothing was sent, so no IP is blamed.
                let classification = readings.read(local: reply, provider: message.provider)
                let (outcome, event, _) = resolve(message.lease, recipient: message.recipient, provider: message.provider, createdAt: message.createdAt,
                                               attempts: message.attempts, path: nil, reply: reply, classification: classification, now: now)
                engine.logAttempt(message.id, ip: "none", provider: message.provider, reply: reply, classification: classification, duration: nil)
                outcomes.append(outcome)
                events.append(event)
            }
        }
        if !release.isEmpty { try await engine.store.release(release) }
        if !outcomes.isEmpty || !events.isEmpty {
            // The send events are stored before the transfers start: a destination sees a
            // message's send before its delivery.
            try await engine.store.record(outcomes, events: events, now: now)
            engine.broadcaster.publish(events)
        }
        finishAndSend(work, now: now)
    }

    /// Renders and signs `work` on the finishing pool, in chunks so that every core
    /// shares a batch; the batch goes to the transport whole and in lease order, as one
    /// `send` (a throttle on a lane withdraws the rest of its batch). A message that
    /// cannot be rendered is left for `recordRenderingFailures()`.
    func finishAndSend(_ work: [FinishWork], now: Timestamp) {
        guard !work.isEmpty else { return }
        state.withLock { state in
            state.finishing += work.count
            for item in work { state.inFlight[item.message.id]?.handed = true }
        }
        let chunkSize = min(32, max(4, (work.count + 2 * pool.threadCount - 1) / (2 * pool.threadCount)))
        let chunks = stride(from: 0, to: work.count, by: chunkSize).map { work[$0..<min($0 + chunkSize, work.count)] }
        let batch = BatchAssembly(number: sequencer.issue(), parts: chunks.count)
        for (index, chunk) in chunks.enumerated() {
            pool.submit { [self] in
                var jobs: [SMTPJob] = []
                jobs.reserveCapacity(chunk.count)
                var failures: [(Outcome, DeliveryEvent)] = []
                for var item in chunk {
                    let message = item.message
                    do {
                        item.job.body = try finisher.finish(item.content, message: message, time: now)
                        if item.job.body.count > configuration.maxMessageBytes {
                            throw KilnError(.invalidMessage, "rendered to \(item.job.body.count) bytes, over delivery.maxMessageBytes (\(configuration.maxMessageBytes))")
                        }
                        jobs.append(item.job)
                    } catch {
                        failures.append((Outcome(id: message.id, state: .failed, countsAsAttempt: false, epoch: message.epoch, owner: engine.nodeID),
                                         DeliveryEvent(kind: .renderingFailure, time: now, messageID: message.id, recipient: message.recipient,
                                                       provider: message.provider, detail: "\(error)")))
                    }
                }
                // Jobs whose lease the heartbeat found lost are not started: another node
                // may be sending those messages (nothing was attempted; nothing to record).
                let dropped = state.withLock { state -> Int in
                    for (outcome, _) in failures { state.inFlight.removeValue(forKey: outcome.id) }
                    state.renderingFailures += failures
                    let before = jobs.count
                    jobs.removeAll { job in
                        guard state.inFlight[job.id]?.lost == true else { return false }
                        state.inFlight.removeValue(forKey: job.id)
                        return true
                    }
                    return before - jobs.count
                }
                if dropped > 0 {
                    engine.logger.warning("dropped jobs whose lease was lost before they started", metadata: ["count": "\(dropped)"])
                }
                if let whole = batch.add(jobs, at: index) {
                    sequencer.complete(batch.number, whole)
                    state.withLock { $0.finishing -= work.count }
                    // Room in flight (the batch no longer counts as finishing), and perhaps
                    // failures to record: the delivery loop and the drain go on at once.
                    finished.poke()
                    engine.wakeup.poke()
                }
            }
        }
    }

    /// The chunks of one batch, put back together when the last one is done.
    final class BatchAssembly: Sendable {
        let number: Int
        private let parts: Mutex<(remaining: Int, jobs: [[SMTPJob]])>

        init(number: Int, parts: Int) {
            self.number = number
            self.parts = Mutex((parts, Array(repeating: [], count: parts)))
        }

        /// Adds chunk `index`; returns the whole batch in order once every chunk is in.
        func add(_ jobs: [SMTPJob], at index: Int) -> [SMTPJob]? {
            parts.withLock { parts in
                parts.jobs[index] = jobs
                parts.remaining -= 1
                return parts.remaining == 0 ? Array(parts.jobs.joined()) : nil
            }
        }
    }

    /// Records the rendering failures the finishing pool left.
    func recordRenderingFailures() async throws {
        let failures = state.withLock { state in
            defer { state.renderingFailures.removeAll() }
            return state.renderingFailures
        }
        guard !failures.isEmpty else { return }
        let events = failures.map(\.1)
        try await engine.store.record(failures.map(\.0), events: events, now: engine.now())
        engine.broadcaster.publish(events)
    }

    /// Waits for the finishing pool to hand over what it holds (at the end of a run,
    /// before the transport shuts down), then records its failures.
    func drainFinishing() async throws {
        while state.withLock({ $0.finishing > 0 }) { _ = await finished.wait(upTo: .seconds(1)) }
        try await recordRenderingFailures()
    }

    /// This node's connections to a provider (or the shared relay): the configured limit
    /// holds for the whole pool. A named node (a cluster) holds a slice of it leased from
    /// the store (`renewConnectionSlices`); before its first slice, and for the shared
    /// relay, each of N live nodes takes 1/N. At least one.
    func connectionLimit(_ provider: MailboxProvider?) -> Int {
        let limit = provider.map { Self.poolConnectionLimit($0, configuration: configuration) } ?? 8
        let clustered = engine.node != nil
        return state.withLock { state in
            if let provider, clustered {
                state.connectionLimits[provider.id] = limit
                if let slice = state.connectionSlices[provider.id] { return max(1, slice) }
            }
            return max(1, (limit + state.liveNodes - 1) / state.liveNodes)
        }
    }

    /// A provider's connection limit for the whole pool, all nodes together: its
    /// `providers.X.maxConnections`, else `delivery.maxConnectionsPerDestination` for a
    /// provider Kiln has no profile of, else its profile's.
    static func poolConnectionLimit(_ provider: MailboxProvider, configuration: Configuration) -> Int {
        let profile = ProviderProfile.resolve(provider, overrides: configuration.providers)
        return configuration.providers?[provider.id]?.maxConnections
            ?? (ProviderProfile.builtIn[provider] == nil ? configuration.delivery.maxConnectionsPerDestination ?? profile.maxConnections : profile.maxConnections)
    }

    /// A provider's connection limit holds for all nodes together: at each heartbeat a
    /// named node takes its share (1/N of the limit, N the live nodes, as far as the other
    /// nodes' live slices leave room) for every provider it has sent to in this run. A
    /// node that holds more than its share gives the rest back at its next heartbeat; one
    /// that stops gives its slices back when their lease lapses (at once when it stops
    /// cleanly: `want` 0).
    func renewConnectionSlices(now: Timestamp, want wanted: Int? = nil) async throws {
        guard let node = engine.node else { return }
        let (limits, nodes) = state.withLock { ($0.connectionLimits, $0.liveNodes) }
        var slices: [String: Int] = [:]
        for (provider, limit) in limits.sorted(by: { $0.key < $1.key }) {
            let slice = try await engine.store.takeQuota(Self.connectionQuota(provider), window: "live", node: node, used: 0,
                                                         want: wanted ?? (limit + nodes - 1) / nodes, limit: limit,
                                                         now: now, until: now + leaseTime)
            slices[provider] = slice.granted
        }
        state.withLock { $0.connectionSlices.merge(slices) { $1 } }
    }

    /// Checks the leases this run holds against what is behind them: each message handed
    /// on must be with the finishing pool, with the transport, or have its outcome being
    /// stored. One that is none of these (a job lost on the way) would keep its lease
    /// renewed and its message unsent for as long as the run lasts; once two audits in a
    /// row (a heartbeat apart) find it so, its lease is given back and it is sent again.
    /// Audits only while the finishing pool is empty (a batch parked there is not yet
    /// with the transport). Returns the leases given back.
    @discardableResult
    func auditLeases() async throws -> [MessageLease] {
        let unbacked: [MessageLease] = state.withLock { state in
            guard state.finishing == 0 else {
                state.unbacked = []
                return []
            }
            // Under the state lock, as `takeRecording` moves results out of the transport.
            let held = transport.heldJobs
            let found = Set(state.inFlight.compactMap { id, flight in
                flight.handed && !flight.recording && !held.contains(id) ? MessageLease(id: id, epoch: flight.epoch) : nil
            })
            let confirmed = found.intersection(state.unbacked)
            state.unbacked = found.subtracting(confirmed)
            for lease in confirmed { state.inFlight.removeValue(forKey: lease.id) }
            return confirmed.sorted { $0.id < $1.id }
        }
        guard !unbacked.isEmpty else { return [] }
        engine.logger.warning("gave back leases with no transfer behind them; their messages will be sent again",
                              metadata: ["count": "\(unbacked.count)", "messages": "\(unbacked.prefix(10).map(\.id))"])
        try await engine.store.release(unbacked)
        return unbacked
    }

    /// The managed pools this node sends part of (a named node of a cluster only).
    var clusterManagedPools: [Configuration.Pool] {
        guard engine.node != nil else { return [] }
        return configuration.pools.filter { ($0.scaling ?? .managed) == .managed && !$0.ips.isEmpty }
    }

    /// Says how many of each managed pool's IPs this node has active, as its slice of the
    /// pool's `maxIPs` among the store's quotas, renewed with every heartbeat (it lapses
    /// with the node), so that the other nodes count them when they scale their part.
    func publishActiveIPs(now: Timestamp) async throws {
        for pool in clusterManagedPools {
            let active = state.withLock { $0.dispatcher.router.activeIPs(pool: pool.name).count }
            _ = try await claimActiveIPs(pool.name, count: active, now: now)
        }
    }

    /// Takes a slice of `count` of the pool's cluster-wide `maxIPs` (fewer when the other
    /// nodes' live slices leave less); returns what the store granted. One transaction
    /// decides, so two nodes that scale at once cannot both take the last IP.
    func claimActiveIPs(_ pool: String, count: Int, now: Timestamp) async throws -> Int {
        guard let node = engine.node else { return count }
        let slice = try await engine.store.takeQuota(Self.activeIPsQuota(pool), window: "live", node: node, used: 0, want: count,
                                                     limit: clusterMaxIPs(pool), now: now, until: now + leaseTime)
        return slice.granted
    }

    /// A pool's `maxIPs` for the whole cluster (the configuration's, not this node's part).
    func clusterMaxIPs(_ pool: String) -> Int {
        let whole = engine.configuration.pool(named: pool)
        return whole?.maxIPs ?? whole?.ips.count ?? 0
    }

    /// Each managed pool's active IPs on the other live nodes, and the pool's `maxIPs`
    /// for the whole cluster: a node plans its part of the pool with them.
    func poolPeers(now: Timestamp) async throws -> [String: PoolPeers] {
        guard let node = engine.node else { return [:] }
        var peers: [String: PoolPeers] = [:]
        for pool in clusterManagedPools {
            let slices = try await engine.store.quotaSlices(Self.activeIPsQuota(pool.name), window: "live")
            let elsewhere = slices.filter { $0.node != node }.reduce(0) { $0 + $1.held(at: now) }
            peers[pool.name] = PoolPeers(activeElsewhere: elsewhere, clusterMaxIPs: clusterMaxIPs(pool.name))
        }
        return peers
    }

    /// The name of a pool's active IPs on each node among the store's quotas.
    static func activeIPsQuota(_ pool: String) -> String { "active-ips." + pool }

    /// The name of a provider's connection limit among the store's quotas.
    static func connectionQuota(_ provider: String) -> String { "connections." + provider }

    /// The domain of a stored recipient (its part after the last `@`).
    static func domain(of recipient: String) -> String {
        recipient.lastIndex(of: "@").map { String(recipient[recipient.index(after: $0)...]) } ?? recipient
    }

    /// Looks up the MX records of a batch's recipient domains at once (`MXResolver.prefetch`), so that the answers are in the resolver's cache
    /// before the batch is routed: a domain whose name servers do not answer costs the
    /// batch one lookup timeout, not one per domain, and holds up no other domain's mail.
    func resolveDomains(of leased: [LeasedMessage]) async {
        var domains = Set<String>()
        for message in leased where (routeHops[message.provider.id] ?? routeHops["*"])?.isEmpty ?? true {
            domains.insert(Self.domain(of: message.recipient))
        }
        guard domains.count > 1 else { return }
        await engine.mx.prefetch(domains)
    }

    /// Where a message goes, in the order to try within one attempt: its provider's
    /// route (a URL or a list), else the `*` route, else (MX mode) the recipient domain's
    /// MX hosts (`MXResolver.hops`). A failure is a local reply: 5.1.2 for a domain that
    /// does not exist, 5.1.10 for a null MX (RFC 7505), 4.4.3 for a DNS failure.
    func destination(for message: LeasedMessage, sourceIP: String?) async -> Destination {
        if let hops = routeHops[message.provider.id] ?? routeHops["*"], !hops.isEmpty {
            return .hops(hops)
        }
        let domain = Self.domain(of: message.recipient)
        switch await engine.mx.lookup(domain) {
        case .hosts(var hosts):
            if configuration.delivery.allowPrivateDestinations != true {
                // Not to loopback, private, link-local or multicast addresses that DNS gave.
                for i in hosts.indices {
                    hosts[i].addresses = hosts[i].addresses.filter { IPAddressBytes.parse($0).map { !IPAddressBytes.isPrivate($0) } ?? false }
                }
                hosts = hosts.filter { !$0.addresses.isEmpty }
                if hosts.isEmpty {
                    return .failed(SMTPReply(code: 451, enhancedStatus: "4.4.3", text: "kiln: every MX host of \(domain) has a loopback, private or otherwise non-public address (delivery.allowPrivateDestinations allows them)", isLocal: true))
                }
            }
            let port = configuration.delivery.mxPort ?? 25
            let hops = state.withLock { MXResolver.hops(hosts, port: port, sourceIP: sourceIP, using: &$0.rng) }
            if !hops.isEmpty { return .hops(hops) }
            return .failed(SMTPReply(code: 451, enhancedStatus: "4.4.3", text: "kiln: no MX host of \(domain) has an address this source (\(sourceIP ?? "any")) can reach", isLocal: true))
        case .nullMX:
            return .failed(SMTPReply(code: 556, enhancedStatus: "5.1.10", text: "kiln: \(domain) accepts no mail (null MX, RFC 7505)", isLocal: true))
        case .noSuchDomain:
            return .failed(SMTPReply(code: 550, enhancedStatus: "5.1.2", text: "kiln: the domain \(domain) does not exist or accepts no mail", isLocal: true))
        case .temporaryFailure(let why):
            return .failed(SMTPReply(code: 451, enhancedStatus: "4.4.3", text: "kiln: DNS lookup of \(domain) failed: \(why)", isLocal: true))
        }
    }

    enum Destination {
        /// At least one.
        case hops([SMTPHop])
        case failed(SMTPReply)
    }

    // MARK: Results

    func consumeResults() async throws {
        for await _ in transport.resultsReady {
            // The transport announces results in batches (`SMTPTransport.announceWindow`),
            // and what came in while the last outcomes were being written joins the next:
            // one transaction (one statement on PostgreSQL) for many outcomes.
            try await recordTaken(takeRecording())
        }
        try await recordTaken(takeRecording())
    }

    func record(_ results: [SMTPResult]) async throws {
        guard !results.isEmpty else { return }
        let now = engine.now()
        var outcomes: [Outcome] = []
        var events: [DeliveryEvent] = []
        var release: [MessageLease] = []
        var pauses = Set<String>()
        var authenticationPauses = Set<String>()
        outcomes.reserveCapacity(results.count)
        for result in results {
            let classification = result.reply.map { readings.take(result, reply: $0) }
            guard let info = state.withLock({ $0.inFlight.removeValue(forKey: result.id) }) else { continue }
            guard let reply = result.reply, let classification else {
                release.append(MessageLease(id: result.id, epoch: info.epoch))
                continue
            }
            // A lost lease's outcome goes to the store with its own epoch: the store keeps
            // it as a `staleOutcome` event and leaves the message to its new holder.
            var (outcome, event, completion) = resolve(MessageLease(id: result.id, epoch: info.epoch), recipient: info.recipient, provider: info.provider,
                                                   createdAt: info.createdAt, attempts: info.attempts, path: info.path, reply: reply,
                                                   classification: classification, now: now)
            if let signal = completion.signal {
                // What waits on the lane goes back to the queue, as after a reply read so.
                transport.obey(completion.laneOrders, laneOf: result)
                engine.metrics.signal(signal.rawValue, provider: info.provider.id, ip: info.path.description)
                engine.logger.warning("pair slowed by what the provider did", metadata: [
                    "signal": "\(signal.rawValue)", "ip": "\(info.path.description)", "provider": "\(info.provider.id)",
                    "code": "\(reply.code)"])
            }
            // Only an authentication failure takes the lock: every other reply passes by.
            if classification.reason == .authFailure,
               state.withLock({ $0.authentication.record(classification, configurationSet: info.configurationSet, now: now) }) {
                authenticationPauses.insert(info.configurationSet)
            }
            outcome.host = result.host.description
            event.host = outcome.host
            if !result.passedOver.isEmpty { event.detail = "passed over: " + result.passedOver.joined(separator: "; ") }
            // The transfer's own time (the transport's); from the lease for a transport
            // that does not say.
            let duration = result.duration ?? engine.clock.uptime() - info.startedAt
            engine.metrics.attempt(provider: info.provider.id, ip: info.path.description, replyClass: classification.replyClass.rawValue,
                                   duration: duration)
            engine.logAttempt(result.id, ip: info.path.description, provider: info.provider, reply: reply, classification: classification,
                              duration: duration)
            outcomes.append(outcome)
            events.append(event)
            if classification.pausesConfigurationSet {
                pauses.insert(info.configurationSet)
            }
        }
        // A full disk or an unreachable database is waited out: these outcomes stay here
        // until the store takes them.
        try await engine.waitingOutStoreOutages { [outcomes, events] in
            if !release.isEmpty { try await engine.store.release(release) }
            try await engine.store.record(outcomes, events: events, now: now)
        }
        for set in pauses.sorted() {
            // An operator rule (`pauseConfigurationSet`) said the sending setup is at fault.
            try await engine.pause(configurationSet: set)
            engine.logger.warning("configuration set paused by a reply rule", metadata: ["configurationSet": "\(set)"])
        }
        for set in authenticationPauses.subtracting(pauses).sorted() {
            // Many replies in a short time that the sender failed authentication: the
            // sending setup (SPF, DKIM, DMARC) is broken; every further message is refused.
            let limit = engine.configuration.feedbackSettings.authenticationFailureLimit
            let reason = "\(limit) authentication failures (SPF, DKIM, DMARC) within \(AuthenticationWatch.window / 60_000_000_000) minutes"
            try await engine.pause(configurationSet: set, reason: reason)
            engine.logger.warning("configuration set paused: the receivers say its mail fails authentication",
                                  metadata: ["configurationSet": "\(set)", "failures": "\(limit)"])
        }
        engine.broadcaster.publish(events)
    }

    /// The outcome and event of an attempt that ended with `reply`, as the dispatcher
    /// decides them (it also feeds the reply to the router). `path` is nil for a local
    /// reply that never left (no IP to blame). The outcome names `lease` (its epoch fences it).
    func resolve(_ lease: MessageLease, recipient: String, provider: MailboxProvider, createdAt: Timestamp, attempts: Int, path: SendingPath?,
                 reply full: SMTPReply, classification: ReplyClassification, now: Timestamp) -> (Outcome, DeliveryEvent, Dispatcher.Completion) {
        // What is stored keeps at most 4 KB of the reply's text; the whole one goes to the debug log.
        let id = lease.id
        let reply = full.bounded()
        if reply.text.utf8.count != full.text.utf8.count, engine.logger.logLevel <= .debug {
            engine.logger.debug("long reply", metadata: ["message": "\(id)", "bytes": "\(full.text.utf8.count)", "reply": "\(full.description)"])
        }
        let completion = state.withLock { state in
            state.dispatcher.complete(provider: provider, path: path, classification: classification, createdAt: createdAt,
                                      failedAttempts: attempts, recipient: classification.replyClass == .success ? nil : recipient.lowercased().hashValue,
                                      now: now, using: &state.rng)
        }
        var outcome: Outcome
        switch completion.disposition {
        case .delivered:
            outcome = Outcome(id: id, state: .delivered, reply: reply, via: path)
        case .bounced(let suppress):
            outcome = Outcome(id: id, state: .bounced, reply: reply, via: path, suppressRecipient: suppress ? recipient : nil)
        case .retry(let at):
            outcome = Outcome(id: id, state: .deferred, nextAttemptAt: at, reply: reply, via: path)
        case .expired:
            outcome = Outcome(id: id, state: .expired, reply: reply, via: path)
        }
        outcome.epoch = lease.epoch
        outcome.owner = engine.nodeID
        var event = DeliveryEvent(kind: completion.event, time: now, messageID: id, recipient: recipient, provider: provider, via: path, reply: reply,
                                  replyClass: classification.replyClass, reason: classification.reason, attempt: attempts + 1)
        if let signal = completion.signal {
            event.detail = "signal: \(signal.rawValue) (\(completion.classification.replyClass == .throttle ? "the pair slowed" : "the pair suspended") whatever the reply said)"
        }
        return (outcome, event, completion)
    }
}

extension SendEngine {
    /// The attempt's log line (info): message id, source IP, provider, reply code, class
    /// and duration; never the body, the recipient's content or a secret.
    func logAttempt(_ id: MessageID, ip: String, provider: MailboxProvider, reply: SMTPReply, classification: ReplyClassification, duration: Duration?) {
        // Built only when it is logged: at the default level (warning) it is not.
        guard logger.logLevel <= .info else { return }
        var metadata: Logger.Metadata = [
            "message": "\(id)", "ip": "\(ip)", "provider": "\(provider.id)", "code": "\(reply.code)",
            "class": "\(classification.replyClass.rawValue)",
        ]
        if let status = reply.enhancedStatus { metadata["status"] = "\(status)" }
        if let duration { metadata["duration"] = "\(String(format: "%.3f", duration.secondsDouble))" }
        logger.info("attempt", metadata: metadata)
    }
}
