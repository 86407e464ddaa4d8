import KilnCore

extension SimulationRun {
    /// One minute of one provider: its due messages arrive spread over the minute, as a
    /// continuous stream would reach the dispatcher; each goes where the dispatcher says
    /// (a dedicated IP through the transport, the shared relay, or back to wait for the
    /// refill, followed inside the minute); replies come back as transactions end.
    mutating func runMinute(_ p: Int, start minuteStart: Int64) {
        let minuteEnd = minuteStart + Simulator.minute
        defer {
            deliverReplies(p, until: minuteEnd - 1)
            if !retries[p].isEmpty {
                queues[p] = Simulator.merge(queues[p] + retries[p])
                retries[p].removeAll(keepingCapacity: true)
            }
        }
        // The queue is kept in due order: the due cohorts lead.
        var dueCount = 0
        for cohort in queues[p] {
            guard cohort.due < minuteEnd else { break }
            dueCount += cohort.count
        }
        guard dueCount > 0 else { return }
        let model = physics[p]
        let spacing = Simulator.minute / Int64(dueCount)
        var clock = minuteStart
        var k = 0
        var index = 0
        var stopped = false
        while index < queues[p].count, queues[p][index].due < minuteEnd, !stopped {
            var cohort = queues[p][index]
            if dispatcher.retry.isExpired(createdAt: Timestamp(nanoseconds: cohort.created), now: Timestamp(nanoseconds: minuteStart)) {
                today[p].expired += cohort.count
                totals.expired += cohort.count
                totals.delivered(cohort.count, after: minuteStart - cohort.created)
                k += cohort.count
                queues[p][index].count = 0
                index += 1
                continue
            }
            while cohort.count > 0 {
                clock = max(clock, minuteStart + Int64(k) * spacing, cohort.due)
                if transport.hasReply(p, by: clock) { deliverReplies(p, until: clock) }
                if let wait = transport.waitTime(p, at: clock) {
                    // The dispatcher waits for a transaction to end.
                    clock = max(clock, wait)
                    if clock < minuteEnd { deliverReplies(p, until: clock) }
                    continue
                }
                guard clock < minuteEnd else { stopped = true; break }
                let decision = dispatcher.decideKeyed(provider: keys[p], pool: pool, createdAt: Timestamp(nanoseconds: cohort.created),
                                                      now: Timestamp(nanoseconds: clock))
                switch decision {
                case .expire:
                    cohort.count -= 1
                    k += 1
                    today[p].expired += 1
                    totals.expired += 1
                    totals.delivered(after: clock - cohort.created)
                case .route(.deferred(let until)):
                    if until < minuteEnd {
                        clock = max(clock + 1, until)
                        continue
                    }
                    // Capacity deferral: wait for the refill (not a failed attempt).
                    stopped = true
                    cohort.due = max(cohort.due, until)
                case .route(.shared):
                    cohort.count -= 1
                    k += 1
                    // The messages after it spill too until a token, a reply or expiry can
                    // change that: the dispatcher's decisions, taken at once.
                    var spilled = 1
                    if cohort.count > 0,
                       let until = dispatcher.spillsUntil(provider: keys[p], pool: pool, createdAt: Timestamp(nanoseconds: cohort.created)) {
                        let limit = min(until.nanoseconds, minuteEnd, transport.nextReplyTime(p) ?? .max)
                        // Message j goes at max(clock, minuteStart + j × spacing).
                        var n = 0
                        if clock < limit {
                            // j goes before `limit` when its slot does (clock < limit already).
                            n = min(cohort.count, max(0, Int((limit - 1 - minuteStart) / spacing) + 1 - k))
                        }
                        if n > 0 {
                            clock = max(clock, minuteStart + Int64(k + n - 1) * spacing)
                            cohort.count -= n
                            k += n
                            spilled += n
                            dispatcher.recordSpills(provider: keys[p], pool: pool, count: n)
                        }
                    }
                    today[p].spilled += spilled
                    totals.shared += spilled
                    totals.delivered(spilled, after: clock - cohort.created)
                case .route(.dedicated(let ip)):
                    cohort.count -= 1
                    k += 1
                    attempt(p, ip: routerIPs[ip], cohort: cohort, at: clock, model: model)
                }
                if stopped { break }
            }
            queues[p][index] = cohort
            index += 1
        }
        // Still in due order: only emptied cohorts go.
        queues[p].removeAll { $0.count == 0 }
    }

    /// One attempt from a dedicated IP: the pair's first free connection takes it, the
    /// provider answers as the transaction starts, and a refusal is back when it ends.
    mutating func attempt(_ p: Int, ip i: Int, cohort: Cohort, at clock: Int64, model: ProviderPhysics) {
        totals.dedicatedAttempts += 1
        let (begins, ends) = transport.start(p, ip: i, at: clock)
        let outcome = pairs[p][i].attempt(model, at: begins, bounceBelow: bounceBelow, using: &rng)
        switch outcome {
        case .accepted:
            today[p].dedicated += 1
            totals.dedicated += 1
            totals.delivered(after: begins - cohort.created)
        case .userUnknown:
            today[p].bounced += 1
        case .throttled:
            today[p].throttled += 1
            totals.throttles += 1
        case .blocked(let newEpisode):
            if newEpisode { totals.blockEpisodes += 1 }
            today[p].blocked += 1
        }
        if outcome != .accepted {
            transport.queue(.init(at: ends, ip: i, outcome: outcome, created: cohort.created, attempts: cohort.attempts), provider: p)
        }
    }

    /// Hands the refusals whose transactions ended by `time` to the dispatcher, which
    /// feeds the router and decides each message's fate, as in the engine.
    mutating func deliverReplies(_ p: Int, until time: Int64) {
        while let reply = transport.nextReply(p, by: time) {
            let classification: ReplyClassification
            switch reply.outcome {
            case .userUnknown: classification = bounceClasses[p]
            case .throttled: classification = draw(throttleClasses[p])
            default: classification = draw(blockClasses[p])
            }
            let completion = dispatcher.complete(
                provider: providerKeys[p], path: .dedicated(ip: ips[reply.ip]), classification: classification,
                createdAt: Timestamp(nanoseconds: reply.created), failedAttempts: reply.attempts, now: Timestamp(nanoseconds: reply.at),
                using: &rng)
            // A bounce was counted when the provider answered.
            if reply.outcome == .userUnknown { continue }
            switch completion.disposition {
            case .retry(let at):
                retries[p].append(Cohort(count: 1, created: reply.created, due: at.nanoseconds, attempts: reply.attempts + 1))
            case .expired:
                today[p].expired += 1
                totals.expired += 1
                totals.delivered(after: reply.at - reply.created)
            case .delivered, .bounced:
                today[p].bounced += 1
            }
        }
    }

    /// One of a provider's wordings (the only one without a draw, so that a provider with
    /// one wording leaves the random stream as it was).
    mutating func draw(_ wordings: [ReplyClassification]) -> ReplyClassification {
        wordings.count == 1 ? wordings[0] : wordings[Int(rng.next() % UInt64(wordings.count))]
    }

    /// The upper bound: exactly at capacity, every IP, each hour (it reads the providers'
    /// hidden state); the rest spills or waits.
    mutating func sendAtCapacity(hourStart: Int64) {
        for p in providerIDs.indices {
            let budget = pairs[p].indices.reduce(0) {
                $0 + (pairs[p][$1].blockedUntil > hourStart ? 0 : Int(saturating: models[p].capacity(reputation: pairs[p][$1].reputation)))
            }
            var due = 0
            for c in queues[p] where c.due < hourStart + Simulator.hour { due += c.count }
            let send = min(due, budget)
            var remaining = send
            var bouncedNow = 0
            var i = 0
            while remaining > 0, i < pairs[p].count {
                let take = min(remaining, Int(saturating: models[p].capacity(reputation: pairs[p][i].reputation)))
                pairs[p][i].dayAccepted += take
                pairs[p][i].dayAttempted += take
                pairs[p][i].hourAccepted += take
                // The list is the same for every strategy: so are its bad addresses.
                pairs[p][i].dayBounced += Int(saturating: (Double(take) * hardBounceRate).rounded())
                bouncedNow += Int(saturating: (Double(take) * hardBounceRate).rounded())
                remaining -= take
                i += 1
            }
            let spill = spillover == .never ? 0 : due - send
            var toRemove = send + spill
            today[p].dedicated += send - bouncedNow
            today[p].bounced += bouncedNow
            today[p].spilled += spill
            totals.dedicated += send - bouncedNow
            totals.shared += spill
            totals.dedicatedAttempts += send
            var kept: [Cohort] = []
            for var c in queues[p] {
                if toRemove > 0, c.due < hourStart + Simulator.hour {
                    let n = min(toRemove, c.count)
                    toRemove -= n
                    c.count -= n
                    totals.delivered(n, after: hourStart - c.created)
                }
                if c.count > 0 { kept.append(c) }
            }
            queues[p] = kept
        }
    }
}
