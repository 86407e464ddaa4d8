import KilnCore
import KilnDNS
import Testing

@Suite struct DNSMessageTests {
    @Test func aResponseSurvivesEncodingAndParsing() throws {
        let message = DNSMessage(
            id: 0xBEEF, isResponse: true, questions: [.init(name: "Example.TEST.", type: .mx)],
            answers: [
                .init(name: "example.test", type: .mx, ttl: 300, data: .mx(preference: 10, exchange: "mx1.example.test")),
                .init(name: "example.test", type: .mx, ttl: 60, data: .mx(preference: 0, exchange: "")),
                .init(name: "example.test", type: .txt, ttl: 5, data: .text(["v=spf1 ", "ip4:192.0.2.0/24 -all"])),
                .init(name: "mx1.example.test", type: .a, ttl: 7, data: .address("192.0.2.25")),
                .init(name: "mx1.example.test", type: .aaaa, ttl: 7, data: .address("2001:db8::25")),
                .init(name: "25.2.0.192.in-addr.arpa", type: .ptr, ttl: 7, data: .name("mx1.example.test")),
            ],
            authority: [.init(name: "example.test", type: .soa, ttl: 900, data: .soa(minimum: 120))])
        let parsed = try DNSMessage(parsing: message.encoded())
        #expect(parsed.id == 0xBEEF)
        #expect(parsed.isResponse)
        #expect(parsed.questions == [.init(name: "example.test", type: .mx)])
        #expect(parsed.answers == message.answers)
        #expect(parsed.authority == message.authority)
    }

    @Test func compressedNamesAreFollowedAndForwardPointersRefused() throws {
        // Header, question "a.test" MX, one answer whose name and exchange point back.
        var bytes: [UInt8] = [0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]
        bytes += [1, 0x61, 4, 0x74, 0x65, 0x73, 0x74, 0, 0, 15, 0, 1]  // a.test at offset 12
        bytes += [0xC0, 12, 0, 15, 0, 1, 0, 0, 0, 60, 0, 7, 0, 5, 2, 0x6D, 0x78, 0xC0, 12]  // mx.a.test
        let parsed = try DNSMessage(parsing: bytes)
        #expect(parsed.answers.first?.data == .mx(preference: 5, exchange: "mx.a.test"))
        #expect(parsed.answers.first?.name == "a.test")
        var looping = bytes
        looping[looping.count - 1] = UInt8(looping.count - 2)  // the pointer points at itself
        #expect(throws: DNSFormatError.self) { try DNSMessage(parsing: looping) }
        #expect(throws: DNSFormatError.self) { try DNSMessage(parsing: Array(bytes.prefix(20))) }
    }

    @Test(arguments: [
        ("192.0.2.1", [192, 0, 2, 1] as [UInt8]), ("::1", Array(repeating: 0, count: 15) + [1]),
        ("2001:db8::8:800:200c:417a", [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0x08, 0x08, 0, 0x20, 0x0c, 0x41, 0x7a]),
        ("::ffff:192.0.2.1", Array(repeating: 0, count: 10) + [0xff, 0xff, 192, 0, 2, 1]),
    ])
    func addressesParseAndFormat(text: String, bytes: [UInt8]) {
        #expect(IPAddressBytes.parse(text) == bytes)
        if !text.contains(".") || bytes.count == 4 { #expect(IPAddressBytes.format(bytes) == text) }
    }

    @Test(arguments: ["1.2.3", "256.1.1.1", "01.2.3.4", "1::2::3", "12345::", ":::", "1:2:3:4:5:6:7:8:9", "g::1", ""])
    func malformedAddressesAreRefused(text: String) {
        #expect(IPAddressBytes.parse(text) == nil)
    }

    @Test func prefixesMatchAndReverseNamesAreNibbles() throws {
        let address = try #require(IPAddressBytes.parse("192.0.2.130"))
        #expect(IPAddressBytes.matches(address, network: [192, 0, 2, 128], prefixLength: 25))
        #expect(!IPAddressBytes.matches(address, network: [192, 0, 2, 0], prefixLength: 25))
        #expect(IPAddressBytes.matches(address, network: [10, 0, 0, 0], prefixLength: 0))
        #expect(IPAddressBytes.reverseName(address) == "130.2.0.192.in-addr.arpa")
        let v6 = try #require(IPAddressBytes.parse("2001:db8::1"))
        #expect(IPAddressBytes.reverseName(v6) == "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa")
    }

    @Test(arguments: [("127.0.0.1:5353", "127.0.0.1", 5353), ("192.0.2.53", "192.0.2.53", 53), ("[::1]:5353", "::1", 5353), ("::1", "::1", 53)])
    func nameServersParse(text: String, host: String, port: Int) {
        #expect(DNSServerAddress(text) == DNSServerAddress(host: host, port: port))
    }

    @Test(arguments: ["localhost:53", "127.0.0.1:0", "127.0.0.1:70000", "[::1", "dns.example"])
    func badNameServersAreRefused(text: String) {
        #expect(DNSServerAddress(text) == nil)
    }

    @Test func namesAreLookedUpAsALabels() {
        #expect(DNSMessage.normalized("Bücher.DE.") == "xn--bcher-kva.de")
    }
}
