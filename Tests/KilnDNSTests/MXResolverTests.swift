import KilnCore
import KilnDNS
import KilnTesting
import Testing

/// The resolver against a loopback name server, on a manual clock.
@Suite struct MXResolverTests {
    func resolver(_ dns: LoopbackDNSServer, clock: ManualClock, timeout: Duration = .seconds(2)) -> MXResolver {
        MXResolver(client: DNSClient(servers: [DNSServerAddress(dns.address)!], timeout: timeout), now: clock.now)
    }

    @Test func hostsComeByPreferenceWithTheirAddresses() async throws {
        let dns = try await LoopbackDNSServer.start()
        dns.set("kiln.test", .mx, [.mx(preference: 20, exchange: "b.kiln.test"), .mx(preference: 10, exchange: "a.kiln.test")])
        dns.set("a.kiln.test", .a, [.address("192.0.2.1")])
        dns.set("a.kiln.test", .aaaa, [.address("2001:db8::1")])
        dns.set("b.kiln.test", .cname, [.name("real-b.kiln.test")])
        dns.set("real-b.kiln.test", .a, [.address("192.0.2.2")])
        let answer = await resolver(dns, clock: ManualClock()).lookup("Kiln.Test.")
        #expect(answer == .hosts([
            .init(name: "a.kiln.test", preference: 10, addresses: ["192.0.2.1", "2001:db8::1"]),
            .init(name: "b.kiln.test", preference: 20, addresses: ["192.0.2.2"]),
        ]))
        await dns.shutdown()
    }

    /// An address record for another name, added to the answer by a hostile or broken
    /// server, is not taken as the host's.
    @Test func anUnrelatedRecordInTheAnswerIsNotTheHostsAddress() async throws {
        let dns = try await LoopbackDNSServer.start()
        dns.set("bank.test", .mx, [.mx(preference: 10, exchange: "mx.bank.test")])
        dns.set("mx.bank.test", .a, [.address("192.0.2.1")])
        dns.setBehaviour("mx.bank.test", .extraAnswer(DNSMessage.Record(name: "attacker.test", type: .a, ttl: 300, data: .address("198.51.100.7"))))
        let answer = await resolver(dns, clock: ManualClock()).lookup("bank.test")
        #expect(answer == .hosts([.init(name: "mx.bank.test", preference: 10, addresses: ["192.0.2.1"])]))
        await dns.shutdown()
    }

    /// A CNAME loop is the receiver's DNS fault: a temporary failure (the message waits),
    /// never "no such domain" (which bounces and suppresses).
    @Test func aCNAMELoopIsATemporaryFailure() async throws {
        let dns = try await LoopbackDNSServer.start()
        dns.set("loop.test", .cname, [.name("back.loop.test")])
        dns.set("back.loop.test", .cname, [.name("loop.test")])
        let answer = await resolver(dns, clock: ManualClock()).lookup("loop.test")
        guard case .temporaryFailure(let why) = answer else {
            Issue.record("a CNAME loop was read as \(answer)")
            await dns.shutdown()
            return
        }
        #expect(why.contains("CNAME"))
        await dns.shutdown()
    }

    @Test func negativeAndFailedAnswersAreCachedBriefly() async throws {
        let dns = try await LoopbackDNSServer.start()
        let clock = ManualClock()
        let mx = resolver(dns, clock: clock)
        #expect(await mx.lookup("gone.test") == .noSuchDomain)
        #expect(await mx.lookup("gone.test") == .noSuchDomain)
        #expect(dns.queries("gone.test", .mx) == 1)
        // The SOA minimum (60 s) bounds the negative answer.
        dns.set("gone.test", .a, [.address("192.0.2.9")])
        clock.advance(by: .seconds(59))
        #expect(await mx.lookup("gone.test") == .noSuchDomain)
        clock.advance(by: .seconds(2))
        #expect(await mx.lookup("gone.test") == .hosts([.init(name: "gone.test", preference: 0, addresses: ["192.0.2.9"])]))

        dns.setBehaviour("broken.test", .serverFailure)
        guard case .temporaryFailure = await mx.lookup("broken.test") else {
            Issue.record("SERVFAIL is a temporary failure")
            return
        }
        dns.setBehaviour("broken.test", nil)
        dns.set("broken.test", .mx, [.mx(preference: 0, exchange: "")])
        clock.advance(by: .seconds(5))
        guard case .temporaryFailure = await mx.lookup("broken.test") else {
            Issue.record("a failure is kept for 10 s")
            return
        }
        clock.advance(by: .seconds(6))
        #expect(await mx.lookup("broken.test") == .nullMX)
        await dns.shutdown()
    }

    @Test func aSilentServerTimesOutAsATemporaryFailure() async throws {
        let dns = try await LoopbackDNSServer.start()
        dns.setBehaviour("slow.test", .silence)
        guard case .temporaryFailure(let why) = await resolver(dns, clock: ManualClock(), timeout: .milliseconds(200)).lookup("slow.test") else {
            Issue.record("no answer is a temporary failure")
            return
        }
        #expect(why.contains("timed out"))
        await dns.shutdown()
    }

    @Test func aTruncatedAnswerIsAskedAgainOverTCP() async throws {
        let dns = try await LoopbackDNSServer.start()
        let many = (0..<40).map { DNSMessage.RecordData.mx(preference: UInt16($0), exchange: "host-number-\($0).big-domain.test") }
        dns.set("big.test", .mx, many)
        for n in 0..<40 { dns.set("host-number-\(n).big-domain.test", .a, [.address("192.0.2.\(n + 1)")]) }
        let client = DNSClient(servers: [DNSServerAddress(dns.address)!])
        let answer = try await client.query("big.test", type: .mx).get()
        #expect(!answer.isTruncated)
        #expect(answer.answers.count == 40)
        guard case .hosts(let hosts) = await resolver(dns, clock: ManualClock()).lookup("big.test") else {
            Issue.record("expected hosts")
            return
        }
        // Addresses are looked up for the 10 most preferred.
        #expect(hosts.map(\.preference) == Array(0..<10))
        await dns.shutdown()
    }

    @Test func theOrderFollowsPreferenceShufflesTiesAndKeepsTheSourceFamily() {
        let hosts: [MXResolver.Host] = [
            .init(name: "a.test", preference: 10, addresses: ["192.0.2.1", "2001:db8::1"]),
            .init(name: "b.test", preference: 10, addresses: ["192.0.2.2"]),
            .init(name: "c.test", preference: 20, addresses: ["2001:db8::3"]),
        ]
        var generator = SeededTestGenerator(seed: 7)
        var firsts: Set<String> = []
        for _ in 0..<50 {
            let targets = MXResolver.order(hosts, sourceIP: "198.51.100.7", using: &generator)
            #expect(targets.count == 2)
            #expect(Set(targets.map(\.host)) == ["a.test", "b.test"])
            #expect(targets.allSatisfy { $0.address.contains(".") })
            firsts.insert(targets[0].host)
        }
        #expect(firsts == ["a.test", "b.test"])
        let v6 = MXResolver.order(hosts, sourceIP: "2001:db8::99", using: &generator)
        #expect(Set(v6.map { "\($0.host) \($0.address)" }) == ["a.test 2001:db8::1", "c.test 2001:db8::3"])
        #expect(v6.last?.host == "c.test")
        let any = MXResolver.order(hosts, sourceIP: nil, using: &generator)
        #expect(any.count == 4)
        #expect(any.last.map { "\($0.host) \($0.address)" } == "c.test 2001:db8::3")
    }
}

/// Knuth's MMIX linear congruential generator, high bits: repeatable shuffles.
struct SeededTestGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return state ^ (state >> 29)
    }
}
