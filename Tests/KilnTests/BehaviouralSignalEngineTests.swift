import Foundation
import Kiln
import KilnCore
import KilnTesting
import Synchronization
import Testing

/// The engine protects an IP from what a receiver does, over real loopback SMTP, when the
/// receiver's words say nothing: a receiver that throttles with a bare `421 4.3.2 Service
/// not available` and blocks with `554 5.7.1 Rejected`, and a greylisting receiver. The
/// engine runs on a manual clock, moved a few minutes at a time through simulated hours.
@Suite struct BehaviouralSignalEngineTests {
    /// A receiver with a provider's rules, per source IP and clock hour: it takes
    /// `limit` messages an hour, refuses the rest with a throttle, and blocks an IP
    /// that tries more than twice that in one hour (for the rest of the test).
    final class Provider: Sendable {
        struct Counts: Sendable {
            var accepted: [String: [Int64: Int]] = [:]
            var attempts: [String: [Int64: Int]] = [:]
            var blocked: Set<String> = []
            var throttles = 0
            var blocks = 0
        }

        let limit: Int
        let clock: ManualClock
        let counts = Mutex(Counts())

        init(limit: Int, clock: ManualClock) {
            self.limit = limit
            self.clock = clock
        }

        var hour: Int64 { clock.now().nanoseconds / 3_600_000_000_000 }

        func reply(_ command: LoopbackSMTPServer.Command) -> SMTPReply? {
            guard case .mailFrom = command.kind else { return nil }
            let ip = command.clientAddress
            let hour = self.hour
            return counts.withLock { c in
                c.attempts[ip, default: [:]][hour, default: 0] += 1
                if c.blocked.contains(ip) || c.attempts[ip]![hour]! > 2 * limit {
                    c.blocked.insert(ip)
                    c.blocks += 1
                    return SMTPReply(parsing: "554 5.7.1 Rejected")
                }
                if c.accepted[ip]?[hour] ?? 0 >= limit {
                    c.throttles += 1
                    return SMTPReply(parsing: "421 4.3.2 Service not available")
                }
                c.accepted[ip, default: [:]][hour, default: 0] += 1
                return nil
            }
        }
    }

    struct Setup {
        let directory: String
        let server: LoopbackSMTPServer
        let engine: SendEngine
        let clock: ManualClock

        init(clock: ManualClock, coldHourly: Double, script: @escaping LoopbackSMTPServer.Script) async throws {
            self.clock = clock
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-signals-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            server = try await LoopbackSMTPServer.start(script: script)
            let configuration = Configuration(
                store: .init(path: "kiln.sqlite"), senderId: "Test",
                identities: [.init(domain: "example.com", returnPathDomain: "bounce.example.com")],
                pools: [.init(name: "p", ips: ["127.0.0.2", "127.0.0.3"], scaling: .fixed, spillover: .never)],
                delivery: .init(mode: .routes, routes: ["*": RouteList(server.url)], heloName: "mta.example.com", connectTimeoutSeconds: 5,
                                transferTimeoutSeconds: 20, tls: Configuration.TLSPolicy.none),
                providers: ["gmail": .init(coldHourly: coldHourly, warmHourly: max(50_000, coldHourly * 10), throttleBackoffSeconds: 900)],
                configurationSets: [.init(name: "bulk", pool: "p")], defaultConfigurationSet: "bulk")
            engine = try SendEngine(configuration: configuration, baseDirectory: directory, logger: Logger.test(), clock: clock)
        }

        func submit(_ count: Int, from first: Int = 0) async throws -> [MessageID] {
            let to = try (first..<(first + count)).map { try EmailAddress("user\($0)@gmail.com") }
            return try await engine.submit(OutgoingMessage(MessageDraft(from: try EmailAddress("news@example.com"), to: to, subject: "Hi", text: "Hello\n")))
        }

        /// Runs the engine through `minutes` of the manual clock, `step` minutes at a time.
        func run(minutes: Int, step: Int = 2) async throws {
            for _ in stride(from: 0, to: minutes, by: step) {
                try await engine.runUntilIdle()
                clock.advance(by: .seconds(60 * step))
            }
            try await engine.runUntilIdle()
        }

        func finish() async {
            await server.shutdown()
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    @Test func aReceiverThatThrottlesAndBlocksWithNoWordsNeverBlocksThePairAndItsRateSettlesBelowTheLimit() async throws {
        let clock = ManualClock()
        let limit = 40
        let provider = Provider(limit: limit, clock: clock)
        // The engine starts at five times what the receiver takes an hour.
        let setup = try await Setup(clock: clock, coldHourly: Double(5 * limit), script: { provider.reply($0) })
        _ = try await setup.submit(1_500)
        try await setup.run(minutes: 6 * 60, step: 1)
        let counts = provider.counts.withLock { $0 }
        for ip in counts.attempts.keys.sorted() {
            let hours = counts.attempts[ip]!.keys.sorted()
            print("receiver: \(ip) attempts per hour \(hours.map { counts.attempts[ip]![$0]! }), accepted \(hours.map { counts.accepted[ip]?[$0] ?? 0 })")
        }
        #expect(counts.throttles > 0, "the receiver never throttled: the test did not test anything")
        #expect(counts.blocks == 0, "the receiver blocked \(counts.blocked.sorted())")
        // After the first hours each pair tries no more than the receiver takes (a token a
        // minute at most with this clock's one-minute steps: up to 60 an hour).
        let lastHour = provider.hour
        for ip in ["127.0.0.2", "127.0.0.3"] {
            for hour in (lastHour - 3)..<lastHour {
                let tried = counts.attempts[ip]?[hour] ?? 0
                #expect(tried <= limit + limit / 8, "\(ip) tried \(tried) in hour \(hour - lastHour) (the receiver takes \(limit))")
            }
        }
        // The allowance came down from five times the limit to near it.
        let pairs = try await setup.engine.status().warmup.filter { $0.provider == "gmail" }
        #expect(pairs.count == 2)
        for pair in pairs {
            #expect(Double(pair.hourly) <= Double(2 * limit), "\(pair.ip) allows \(pair.hourly) an hour; the receiver takes \(limit)")
        }
        await setup.finish()
    }

    @Test func aGreylistingReceiverDoesNotSlowThePair() async throws {
        let clock = ManualClock()
        let seen = Mutex(Set<String>())
        let greylisted = Atomic(0)
        let setup = try await Setup(clock: clock, coldHourly: 600, script: { command in
            guard case .recipient(let address) = command.kind else { return nil }
            if seen.withLock({ $0.insert(address).inserted }) {
                greylisted.add(1, ordering: .relaxed)
                return SMTPReply(parsing: ProviderReplies.greylisted)
            }
            return nil
        })
        let ids = try await setup.submit(200)
        try await setup.run(minutes: 90)
        #expect(greylisted.load(ordering: .relaxed) >= 20)
        let records = try await setup.engine.store.messages(ids: ids)
        #expect(records.filter { $0.state == .delivered }.count >= 20)
        let pairs = try await setup.engine.status().warmup.filter { $0.provider == "gmail" }
        #expect(!pairs.isEmpty)
        for pair in pairs {
            #expect(pair.suspendedUntil == nil, "\(pair.ip) was rested by a greylisting receiver")
            #expect(Double(pair.hourly) >= 600 * 0.99, "\(pair.ip) slowed to \(pair.hourly) an hour")
        }
        await setup.finish()
    }
}
