import ArgumentParser
import Foundation
import Synchronization
import Kiln
import KilnCore
import KilnMessage
import KilnLoopback

struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Send a few thousand synthetic messages through the real pipeline to built-in loopback receivers that answer like mailbox providers, and report.")

    @Option(help: "Messages to send.") var messages = 3000
    @OptionGroup var output: OutputOptions

    func validate() throws {
        guard (1...1_000_000).contains(messages) else { throw ValidationError("--messages must be between 1 and 1000000") }
    }

    func run() async throws {
        let report = try await DemoRun(messages: messages, showProgress: !output.json).run()
        if output.json { printJSON(report) } else { report.printTable() }
    }
}

/// The demo: receivers per provider on loopback, a temporary store and configuration,
/// two source IPs (127.0.0.2, 127.0.0.3).
struct DemoRun {
    var messages: Int
    var showProgress: Bool

    /// Providers, their share of the list, and how their receiver behaves.
    static let providers: [(id: String, domain: String, share: Int)] = [
        ("gmail", "gmail.com", 40), ("microsoft", "outlook.com", 25), ("yahoo", "yahoo.com", 20),
        ("apple", "icloud.com", 10), ("other", "example.org", 5),
    ]

    static func script(for provider: String) -> LoopbackSMTPServer.Script {
        // Greylisting (RFC 6647): the first attempt for a recipient is refused, the retry taken.
        let greylisted = Mutex(Set<String>())
        return { command in
            switch command.kind {
            case .recipient(let address) where address.hasPrefix("nobody"):
                switch provider {
                case "yahoo": return SMTPReply(parsing: ProviderReplies.yahooUserUnknown)
                case "microsoft": return SMTPReply(parsing: ProviderReplies.microsoftUserUnknown)
                default: return SMTPReply(parsing: ProviderReplies.gmailUserUnknown)
                }
            case .recipient(let address) where provider == "other" && address.hasPrefix("grey"):
                return greylisted.withLock { $0.insert(address).inserted } ? SMTPReply(parsing: ProviderReplies.greylisted) : nil
            case .mailFrom where provider == "yahoo" && command.messagesOnConnection >= 15:
                // Yahoo-like: more than 15 messages on one connection is "unexpected volume".
                return SMTPReply(parsing: ProviderReplies.yahooThrottle)
            default:
                return nil
            }
        }
    }

    func run() async throws -> DemoReport {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-demo-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }

        var servers: [String: LoopbackSMTPServer] = [:]
        for provider in Self.providers {
            servers[provider.id] = try await LoopbackSMTPServer.start(script: Self.script(for: provider.id))
        }
        var routes: [String: RouteList] = [:]
        for (id, server) in servers { routes[id] = RouteList(server.url) }
        routes["*"] = RouteList(servers["other"]!.url)
        // The shared relay that takes what the cold pool cannot send yet.
        let relay = try await LoopbackSMTPServer.start()

        let configuration = Configuration(
            store: .init(path: directory + "/kiln.sqlite"), senderId: "KilnDemo",
            identities: [.init(domain: "example.com", returnPathDomain: "bounce.example.com", allowedFromAddresses: ["news@example.com"])],
            // Demo-sized waits (production: spill after 900 s of pacing, first retry after 60 s):
            // what the cold pool cannot send within 2 s goes to the relay, and a greylisted
            // message is tried again after 1 s.
            pools: [.init(name: "demo", ips: ["127.0.0.2", "127.0.0.3"], scaling: .fixed, spillover: .whileWarming, spillWaitSeconds: 2)],
            sharedPool: .init(url: relay.url),
            delivery: Self.demoDelivery(routes: routes),
            // Short rests after a throttle, so that the demo shows the pause and the recovery.
            // Demo-sized volumes (the real defaults are per hour of a cold IP: 20 for Gmail):
            // Apple takes one message a second per IP with bursts of a minute's worth, so
            // most Apple mail spills to the shared relay while the pool is cold.
            providers: [
                "gmail": .init(coldHourly: 1_000_000, warmHourly: 10_000_000),
                "microsoft": .init(coldHourly: 1_000_000, warmHourly: 10_000_000, throttleBackoffSeconds: 2),
                "yahoo": .init(coldHourly: 1_000_000, warmHourly: 10_000_000, throttleBackoffSeconds: 2),
                "apple": .init(coldHourly: 3_600, warmHourly: 360_000),
                "other": .init(coldHourly: 1_000_000, warmHourly: 10_000_000),
            ],
            configurationSets: [.init(name: "newsletter", pool: "demo")], defaultConfigurationSet: "newsletter")
        let engine = try SendEngine(configuration: configuration, baseDirectory: directory, logger: makeLogger())
        let events = engine.events()
        let started = ContinuousClock.now

        let from = try EmailAddress("news@example.com")
        var batch: [OutgoingMessage] = []
        var total = 0
        for i in 0..<messages {
            let provider = Self.pick(i)
            let local = i % 37 == 7 ? "nobody\(i)" : (provider.id == "other" && i % 3 == 0 ? "grey\(i)" : "user\(i)")
            let to = try EmailAddress("\(local)@\(provider.domain)")
            let draft = MessageDraft(from: from, fromName: "Kiln Demo", to: [to], subject: "Kiln demo message \(i)",
                                     text: "Hello \(local),\n\nthis is message \(i) of the Kiln demo.\n", html: "<p>Hello \(local),</p><p>this is message \(i) of the Kiln demo.</p>")
            batch.append(OutgoingMessage(draft))
            if batch.count == 500 || i == messages - 1 {
                total += try await engine.submit(batch: batch).count
                batch.removeAll()
            }
        }

        let submitted = total
        let progress = showProgress
        let tally = try await withThrowingTaskGroup(of: DemoTally?.self) { group in
            group.addTask {
                var tally = DemoTally()
                var lastPrint = ContinuousClock.now
                for await event in events {
                    tally.add(event)
                    if progress, ContinuousClock.now - lastPrint > .milliseconds(500) {
                        lastPrint = ContinuousClock.now
                        tally.printProgress(total: submitted, elapsed: ContinuousClock.now - started)
                    }
                }
                return tally
            }
            group.addTask {
                try await engine.runUntilIdle(settle: .seconds(5))
                return nil
            }
            // The delivery task ends first; then close the event stream.
            var result: DemoTally?
            while let next = try await group.next() {
                if next == nil { engine.closeEvents() } else { result = next }
            }
            return result ?? DemoTally()
        }
        if showProgress {
            tally.printProgress(total: total, elapsed: ContinuousClock.now - started)
            if isatty(2) == 1 { FileHandle.standardError.write(Data("\n".utf8)) }
        }

        let status = try await engine.status()
        var received: [String: Int] = [:]
        for (id, server) in servers {
            received[id] = server.messages.count
            if ProcessInfo.processInfo.environment["KILN_DEMO_DEBUG"] != nil { print("\(id): \(server.connectionCount) connections") }
            await server.shutdown()
        }
        received["shared relay"] = relay.messages.count
        await relay.shutdown()
        return DemoReport(tally: tally, status: status, received: received, seconds: (ContinuousClock.now - started).secondsDouble, submitted: total)
    }

    static func demoDelivery(routes: [String: RouteList]) -> Configuration.Delivery {
        var delivery = Configuration.Delivery(mode: .routes, routes: routes, heloName: "mta.example.com", maxMessageAgeHours: 72, tls: Configuration.TLSPolicy.none)
        delivery.retryInitialSeconds = 1
        return delivery
    }

    static func pick(_ i: Int) -> (id: String, domain: String, share: Int) {
        var slot = i % 100
        for provider in providers {
            if slot < provider.share { return provider }
            slot -= provider.share
        }
        return providers[0]
    }
}

struct DemoTally: Sendable {
    var delivered: [String: Int] = [:]
    var bounced: [String: Int] = [:]
    var throttled: [String: Int] = [:]
    var delayed: [String: Int] = [:]
    var viaIP: [String: [String: Int]] = [:]

    mutating func add(_ event: DeliveryEvent) {
        let provider = event.provider?.id ?? "?"
        switch event.kind {
        case .delivery:
            delivered[provider, default: 0] += 1
            viaIP[provider, default: [:]][event.via?.description ?? "?", default: 0] += 1
        case .bounce: bounced[provider, default: 0] += 1
        case .throttle: throttled[provider, default: 0] += 1
        case .deliveryDelay: delayed[provider, default: 0] += 1
        default: break
        }
    }

    func printProgress(total: Int, elapsed: Duration) {
        let done = delivered.values.reduce(0, +) + bounced.values.reduce(0, +)
        let rate = Double(done) / max(elapsed.secondsDouble, 0.001)
        // Progress goes to standard error, redrawn in place on a terminal only: `kiln demo >
        // file` keeps the report clean.
        let terminal = isatty(2) == 1
        let line = String(format: "%6d/%d delivered or bounced  %6.0f msg/s on average  throttles %d  %5.1fs",
                          done, total, rate, throttled.values.reduce(0, +), elapsed.secondsDouble)
        FileHandle.standardError.write(Data(((terminal ? "\r" : "") + line + (terminal ? "" : "\n")).utf8))
    }
}

struct DemoReport: Encodable {
    struct ProviderRow: Encodable {
        var provider: String
        var delivered: Int
        var deferred: Int
        var bounced: Int
        var throttleReplies: Int
        /// Temporary refusals (greylisting) that were retried.
        var retried: Int
        var receivedAtServer: Int
        var viaIP: [String: Int]
    }
    var submitted: Int
    var seconds: Double
    var providers: [ProviderRow]
    var byState: [String: Int]

    init(tally: DemoTally, status: EngineStatus, received: [String: Int], seconds: Double, submitted: Int) {
        self.submitted = submitted
        self.seconds = seconds
        byState = status.byState
        providers = DemoRun.providers.map { p in
            let count = { (state: String) in status.counts.filter { $0.provider.id == p.id && $0.state.description == state }.reduce(0) { $0 + $1.count } }
            return ProviderRow(provider: p.id, delivered: count("delivered"), deferred: count("deferred") + count("queued"), bounced: count("bounced"),
                               throttleReplies: tally.throttled[p.id] ?? 0, retried: tally.delayed[p.id] ?? 0, receivedAtServer: received[p.id] ?? 0, viaIP: tally.viaIP[p.id] ?? [:])
        }
    }

    func printTable() {
        print("Kiln demo: \(submitted) messages in \(String(format: "%.1f", seconds)) s over loopback SMTP")
        func pad(_ text: String, _ width: Int) -> String { text.count >= width ? text : text + String(repeating: " ", count: width - text.count) }
        func right(_ value: Int, _ width: Int) -> String { let text = String(value); return String(repeating: " ", count: max(0, width - text.count)) + text }
        print(pad("provider", 10) + " delivered  deferred  bounced  throttles  retried  received  via")
        for row in providers {
            let via = row.viaIP.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            print(pad(row.provider, 10) + " " + right(row.delivered, 9) + " " + right(row.deferred, 9) + " " + right(row.bounced, 8) + " "
                  + right(row.throttleReplies, 10) + " " + right(row.retried, 8) + " " + right(row.receivedAtServer, 9) + "  " + via)
        }
        print("""
            delivered: taken by the provider's receiver or the shared relay; deferred: still waiting for a retry
            bounced: refused for good (unknown users); throttles: "slow down" replies, after which the IP rested
            retried: refused for now (greylisting) and tried again
            received: messages the provider's own receiver took (the rest of its mail went through the shared relay)
            via: the source IP (or the shared relay) of each delivery
            """)
        print("states: " + byState.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
    }
}
