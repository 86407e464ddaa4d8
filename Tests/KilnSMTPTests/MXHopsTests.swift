import KilnCore
import KilnDNS
import KilnSMTP
import Testing

/// The MX order (KilnDNS) as SMTP hops.
@Suite struct MXHopsTests {
    @Test func hopsAreTheOrderedAddressesOnThePortUpToTheLimit() {
        let hosts: [MXResolver.Host] = [
            .init(name: "a.test", preference: 10, addresses: ["192.0.2.1", "192.0.2.11"]),
            .init(name: "b.test", preference: 20, addresses: ["192.0.2.2", "2001:db8::2"]),
            .init(name: "c.test", preference: 30, addresses: ["192.0.2.3"]),
        ]
        var generator = SeededRandom(seed: 7)
        let hops = MXResolver.hops(hosts, port: 2525, sourceIP: "198.51.100.7", limit: 3, using: &generator)
        #expect(hops.map(\.description) == ["smtp://a.test:2525 (192.0.2.1)", "smtp://a.test:2525 (192.0.2.11)", "smtp://b.test:2525 (192.0.2.2)"])
        let all = MXResolver.hops(hosts, port: 25, sourceIP: nil, using: &generator)
        #expect(all.count == 5)
        #expect(all.last?.description == "smtp://c.test:25 (192.0.2.3)")
    }

    @Test func aHostWhoseNameMakesNoURLIsLeftOutWithoutTakingAPlace() {
        let hosts: [MXResolver.Host] = [
            .init(name: "bad/host", preference: 10, addresses: ["192.0.2.1"]),
            .init(name: "good.test", preference: 20, addresses: ["192.0.2.2"]),
        ]
        var generator = SeededRandom(seed: 1)
        let hops = MXResolver.hops(hosts, port: 25, sourceIP: nil, limit: 1, using: &generator)
        #expect(hops.map(\.url.host) == ["good.test"])
    }
}
