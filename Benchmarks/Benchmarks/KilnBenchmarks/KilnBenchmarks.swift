import Benchmark
import Crypto
import CryptoExtras
import Foundation
import Kiln
import KilnCore
import KilnMessage
import KilnStore
import KilnTesting
import Logging

/// Issue targets: durable enqueue ≥ 100,000 messages/s in batches; end-to-end delivery
/// of 2 KB unsigned messages to a loopback receiver ≥ 5,000 messages/s on 2 cores.
///
/// Each iteration handles a known number of messages and reports `messages/s` (a
/// custom metric, larger is better) beside the wall-clock time of the iteration.
let messagesPerSecond = BenchmarkMetric.custom("messages/s", polarity: .prefersLarger, useScalingFactor: false)
let decisionsPerSecond = BenchmarkMetric.custom("decisions/s", polarity: .prefersLarger, useScalingFactor: false)

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: [.wallClock, messagesPerSecond], timeUnits: .milliseconds, warmupIterations: 1,
                                           maxDuration: .seconds(20), maxIterations: 30)

    Benchmark("Durable enqueue: one message to 1,000 recipients (campaign shape)") { benchmark in
        let bench = try Bench(route: "smtp://127.0.0.1:1")
        defer { bench.remove() }
        let message = bench.message(recipients: 1000)
        try await measure(benchmark, messages: 1000) {
            let ids = try await bench.engine.submit(message)
            precondition(ids.count == 1000)
        }
    }

    Benchmark("Durable enqueue: submit(batch:) of 1,000 distinct composed 2 KB messages") { benchmark in
        let bench = try Bench(route: "smtp://127.0.0.1:1")
        defer { bench.remove() }
        let batch = bench.messages(1000)
        try await measure(benchmark, messages: batch.count) {
            let ids = try await bench.engine.submit(batch: batch)
            precondition(ids.count == batch.count)
        }
    }

    Benchmark("Durable enqueue: 8 concurrent submitters of single 2 KB messages (group commit)") { benchmark in
        let bench = try Bench(route: "smtp://127.0.0.1:1")
        defer { bench.remove() }
        let batch = bench.messages(1000)
        try await measure(benchmark, messages: batch.count) {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for lane in 0..<8 {
                    group.addTask {
                        for index in stride(from: lane, to: batch.count, by: 8) { _ = try await bench.engine.submit(batch[index]) }
                    }
                }
                try await group.waitForAll()
            }
        }
    }

    Benchmark("Routing decisions: token check and IP choice, 4-IP pool, 1,000,000 per iteration",
              configuration: .init(metrics: [.wallClock, decisionsPerSecond], maxDuration: .seconds(10), maxIterations: 20)) { benchmark in
        let overrides = Configuration.ProviderProfileOverride.unthrottled
        var router = Router(
            pools: [.init(name: "p", ips: ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"], scaling: .fixed)],
            profiles: { ProviderProfile.resolve($0, overrides: overrides) })
        let providers = [MailboxProvider.gmail, .microsoft, .yahoo, .apple].map { router.key(for: $0) }
        let pool = router.key(forPool: "p")!
        var now = Timestamp(nanoseconds: 1_000_000_000)
        var dedicated = 0
        let count = 1_000_000
        let started = ContinuousClock.now
        benchmark.startMeasurement()
        for i in 0..<count {
            now = now + .nanoseconds(1_000)
            if case .dedicated = router.route(providers[i & 3], pool: pool, now: now) { dedicated &+= 1 }
        }
        benchmark.stopMeasurement()
        blackHole(dedicated)
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        benchmark.measurement(decisionsPerSecond, Int(Double(count) / seconds))
    }

    // Composition and signing of a 20 KB HTML message, one core.
    let html = "<html><body>" + String(repeating: "<p>Kiln warms up dedicated IPs by itself, one provider at a time: Gmail, Microsoft, Yahoo.</p>\n", count: 205) + "</body></html>"
    let draft = MessageDraft(from: try! EmailAddress("news@example.com"), fromName: "Example News", to: [try! EmailAddress("ada@gmail.com")],
                             subject: "November news", text: nil, html: html)
    let bulk = BulkHeaders(feedbackID: try! FeedbackID(campaign: "nov", category: "news", stream: "newsletter", senderId: "ExampleCo"),
                           unsubscribeURL: "https://example.com/u", unsubscribeMailto: "unsubscribe@example.com", secret: Array("s3cret".utf8))
    let rsaKey = DKIMKey.rsa(try! _RSA.Signing.PrivateKey(keySize: .bits2048))
    let rsaSigner = DKIMSigner(domain: "example.com", selector: "rsa1", key: rsaKey)
    // The two RSA libraries side by side (the default signer picks the faster one).
    let rsaViaOpenSSL = DKIMSigner(domain: "example.com", selector: "rsa1", key: rsaKey, rsaLibrary: .openSSL)
    let rsaViaSwiftCrypto = DKIMSigner(domain: "example.com", selector: "rsa1", key: rsaKey, rsaLibrary: .swiftCrypto)
    let edSigner = DKIMSigner(domain: "example.com", selector: "ed1", key: .ed25519(Curve25519.Signing.PrivateKey()))
    func composeAll(_ count: Int, signer: DKIMSigner?) throws {
        let time = Timestamp(nanoseconds: 1_790_000_000_000_000_000)
        for i in 0..<count {
            var message = bulk.lines(for: UnsubscribeToken(recipient: "user\(i)@gmail.com", list: "newsletter", campaign: "nov"))
                + (try MessageBuilder.compose(draft, date: time, messageID: "m\(i)@example.com", boundarySeed: "b\(i)"))
            if let signer { message = try signer.sign(message, time: time) }
            blackHole(message)
        }
    }
    Benchmark("Compose a 20 KB HTML message with bulk headers, unsigned (1,000 per iteration)") { benchmark in
        try await measure(benchmark, messages: 1000) { try composeAll(1000, signer: nil) }
    }
    Benchmark("Compose and sign a 20 KB HTML message, rsa-sha256 2048 (200 per iteration)") { benchmark in
        try await measure(benchmark, messages: 200) { try composeAll(200, signer: rsaSigner) }
    }
    Benchmark("Compose and sign a 20 KB HTML message, rsa-sha256 2048 through OpenSSL libcrypto (200 per iteration)") { benchmark in
        try await measure(benchmark, messages: 200) { try composeAll(200, signer: rsaViaOpenSSL) }
    }
    Benchmark("Compose and sign a 20 KB HTML message, rsa-sha256 2048 through swift-crypto (200 per iteration)") { benchmark in
        try await measure(benchmark, messages: 200) { try composeAll(200, signer: rsaViaSwiftCrypto) }
    }
    Benchmark("Compose and sign a 20 KB HTML message, ed25519-sha256 (1,000 per iteration)") { benchmark in
        try await measure(benchmark, messages: 1000) { try composeAll(1000, signer: edSigner) }
    }

    Benchmark("End-to-end: 10,000 distinct 2 KB messages into smtp-sink over loopback",
              configuration: .init(maxDuration: .seconds(60), maxIterations: 8)) { benchmark in
        let sink = try SMTPSink()
        defer { sink.stop() }
        let bench = try Bench(route: sink.url)
        defer { bench.remove() }
        let count = 10_000
        _ = try await bench.engine.submit(batch: bench.messages(count))
        try await measure(benchmark, messages: count) {
            try await bench.engine.runUntilIdle()
        }
        let delivered = try await bench.engine.status().byState["delivered"] ?? 0
        precondition(delivered == count, "delivered \(delivered) of \(count)")
    }
}

/// Measures `body` and records its rate in messages per second.
func measure(_ benchmark: Benchmark, messages: Int, _ body: () async throws -> Void) async throws {
    let started = ContinuousClock.now
    benchmark.startMeasurement()
    try await body()
    benchmark.stopMeasurement()
    let elapsed = ContinuousClock.now - started
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    benchmark.measurement(messagesPerSecond, Int(Double(messages) / seconds))
}

/// An engine on a temporary store, every provider routed to `route`.
struct Bench {
    let directory: String
    let engine: SendEngine

    init(route: String) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-bench-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let configuration = Configuration(
            store: .init(path: "kiln.sqlite"), senderId: "Bench",
            identities: [.init(domain: "example.com", returnPathDomain: "bounce.example.com")],
            pools: [.init(name: "p", ips: ["127.0.0.2", "127.0.0.3"], scaling: .fixed)],
            delivery: .init(mode: .routes, routes: ["*": RouteList(route)], heloName: "mta.example.com", maxInFlight: 256, tls: Configuration.TLSPolicy.none),
            providers: Configuration.ProviderProfileOverride.unthrottled,
            configurationSets: [.init(name: "bulk", pool: "p")], defaultConfigurationSet: "bulk")
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        engine = try SendEngine(configuration: configuration, baseDirectory: directory, logger: logger)
    }

    /// `count` distinct single-recipient messages of about 2 KB, across providers.
    func messages(_ count: Int) -> [OutgoingMessage] {
        let paragraph = String(repeating: "Kiln warms up dedicated IPs by itself, one provider at a time. ", count: 28)
        let domains = ["gmail.com", "outlook.com", "yahoo.com", "icloud.com", "example.org"]
        return (0..<count).map { i in
            let draft = MessageDraft(
                from: try! EmailAddress("news@example.com"), to: [try! EmailAddress("user\(i)@\(domains[i % domains.count])")],
                subject: "Issue \(i)", text: paragraph)
            return OutgoingMessage(draft)
        }
    }

    /// One message of about 2 KB to `recipients` recipients across providers.
    func message(recipients: Int) -> OutgoingMessage {
        let paragraph = String(repeating: "Kiln warms up dedicated IPs by itself, one provider at a time. ", count: 28)
        let domains = ["gmail.com", "outlook.com", "yahoo.com", "icloud.com", "example.org"]
        let to = (0..<recipients).map { i in try! EmailAddress("user\(i)@\(domains[i % domains.count])") }
        return OutgoingMessage(MessageDraft(from: try! EmailAddress("news@example.com"), to: to, subject: "News", text: paragraph))
    }

    func remove() { try? FileManager.default.removeItem(atPath: directory) }
}

/// postfix's `smtp-sink` on a free loopback port: accepts everything, fast.
final class SMTPSink {
    let process = Process()
    let port: Int
    var url: String { "smtp://127.0.0.1:\(port)" }

    init() throws {
        port = Int.random(in: 30000..<40000)
        let candidates = ["/usr/sbin/smtp-sink", "/usr/bin/smtp-sink"]
        guard let path = candidates.first(where: FileManager.default.isExecutableFile(atPath:)) else {
            throw KilnError(.invalidInput, "smtp-sink is not installed (apt-get install postfix)")
        }
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = (getuid() == 0 ? ["-u", "nobody"] : []) + ["-c", "127.0.0.1:\(port)", "1024"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Wait for the listener.
        for _ in 0..<100 {
            if canConnect() { return }
            usleep(20_000)
        }
        throw KilnError(.transportFailure, "smtp-sink did not start on port \(port)")
    }

    private func canConnect() -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }

    func stop() {
        // smtp-sink does not exit on SIGTERM once it has dropped privileges.
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}
