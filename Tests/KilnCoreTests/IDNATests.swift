import Foundation
import KilnCore
import Testing

/// Punycode (RFC 3492) and the domain → A-label conversion (RFC 5890/5891) that every
/// domain Kiln sends under or to goes through.
@Suite struct PunycodeTests {
    /// RFC 3492 §7.1, samples (A)–(S): the code points as the RFC lists them, and the
    /// encodings (checked against Python's `punycode` codec as well).
    static let samples: [(String, String, String)] = [
        ("A", "\u{644}\u{64A}\u{647}\u{645}\u{627}\u{628}\u{62A}\u{643}\u{644}\u{645}\u{648}\u{634}\u{639}\u{631}\u{628}\u{64A}\u{61F}", "egbpdaj6bu4bxfgehfvwxn"),
        ("B", "\u{4ED6}\u{4EEC}\u{4E3A}\u{4EC0}\u{4E48}\u{4E0D}\u{8BF4}\u{4E2D}\u{6587}", "ihqwcrb4cv8a8dqg056pqjye"),
        ("C", "\u{4ED6}\u{5011}\u{7232}\u{4EC0}\u{9EBD}\u{4E0D}\u{8AAA}\u{4E2D}\u{6587}", "ihqwctvzc91f659drss3x8bo0yb"),
        ("D", "Pro\u{10D}prost\u{11B}nemluv\u{ED}\u{10D}esky", "Proprostnemluvesky-uyb24dma41a"),
        ("E", "\u{5DC}\u{5DE}\u{5D4}\u{5D4}\u{5DD}\u{5E4}\u{5E9}\u{5D5}\u{5D8}\u{5DC}\u{5D0}\u{5DE}\u{5D3}\u{5D1}\u{5E8}\u{5D9}\u{5DD}\u{5E2}\u{5D1}\u{5E8}\u{5D9}\u{5EA}",
         "4dbcagdahymbxekheh6e0a7fei0b"),
        ("F", "\u{92F}\u{939}\u{932}\u{94B}\u{917}\u{939}\u{93F}\u{928}\u{94D}\u{926}\u{940}\u{915}\u{94D}\u{92F}\u{94B}\u{902}\u{928}\u{939}\u{940}\u{902}\u{92C}\u{94B}\u{932}\u{938}\u{915}\u{924}\u{947}\u{939}\u{948}\u{902}",
         "i1baa7eci9glrd9b2ae1bj0hfcgg6iyaf8o0a1dig0cd"),
        ("G", "\u{306A}\u{305C}\u{307F}\u{3093}\u{306A}\u{65E5}\u{672C}\u{8A9E}\u{3092}\u{8A71}\u{3057}\u{3066}\u{304F}\u{308C}\u{306A}\u{3044}\u{306E}\u{304B}",
         "n8jok5ay5dzabd5bym9f0cm5685rrjetr6pdxa"),
        ("H", "\u{C138}\u{ACC4}\u{C758}\u{BAA8}\u{B4E0}\u{C0AC}\u{B78C}\u{B4E4}\u{C774}\u{D55C}\u{AD6D}\u{C5B4}\u{B97C}\u{C774}\u{D574}\u{D55C}\u{B2E4}\u{BA74}\u{C5BC}\u{B9C8}\u{B098}\u{C88B}\u{C744}\u{AE4C}",
         "989aomsvi5e83db1d2a355cv1e0vak1dwrv93d5xbh15a0dt30a5jpsd879ccm6fea98c"),
        ("I", "\u{43F}\u{43E}\u{447}\u{435}\u{43C}\u{443}\u{436}\u{435}\u{43E}\u{43D}\u{438}\u{43D}\u{435}\u{433}\u{43E}\u{432}\u{43E}\u{440}\u{44F}\u{442}\u{43F}\u{43E}\u{440}\u{443}\u{441}\u{441}\u{43A}\u{438}",
         "b1abfaaepdrnnbgefbadotcwatmq2g4l"),
        ("J", "Porqu\u{E9}nopuedensimplementehablarenEspa\u{F1}ol", "PorqunopuedensimplementehablarenEspaol-fmd56a"),
        ("K", "T\u{1EA1}isaoh\u{1ECD}kh\u{F4}ngth\u{1EC3}ch\u{1EC9}n\u{F3}iti\u{1EBF}ngVi\u{1EC7}t", "TisaohkhngthchnitingVit-kjcr8268qyxafd2f1b9g"),
        ("L", "3\u{5E74}B\u{7D44}\u{91D1}\u{516B}\u{5148}\u{751F}", "3B-ww4c5e180e575a65lsy2b"),
        ("M", "\u{5B89}\u{5BA4}\u{5948}\u{7F8E}\u{6075}-with-SUPER-MONKEYS", "-with-SUPER-MONKEYS-pc58ag80a8qai00g7n9n"),
        ("N", "Hello-Another-Way-\u{305D}\u{308C}\u{305E}\u{308C}\u{306E}\u{5834}\u{6240}", "Hello-Another-Way--fc4qua05auwb3674vfr0b"),
        ("O", "\u{3072}\u{3068}\u{3064}\u{5C4B}\u{6839}\u{306E}\u{4E0B}2", "2-u9tlzr9756bt3uc0v"),
        ("P", "Maji\u{3067}Koi\u{3059}\u{308B}5\u{79D2}\u{524D}", "MajiKoi5-783gue6qz075azm5e"),
        ("Q", "\u{30D1}\u{30D5}\u{30A3}\u{30FC}de\u{30EB}\u{30F3}\u{30D0}", "de-jg4avhby1noc0d"),
        ("R", "\u{305D}\u{306E}\u{30B9}\u{30D4}\u{30FC}\u{30C9}\u{3067}", "d9juau41awczczp"),
        ("S", "-> $1.00 <-", "-> $1.00 <--"),
        ("bücher", "b\u{FC}cher", "bcher-kva"),
    ]

    @Test(arguments: samples)
    func encodesAndDecodesTheRFCSamples(sample: (String, String, String)) {
        let (name, unicode, encoded) = sample
        #expect(Punycode.encode(unicode) == encoded, "sample \(name)")
        // Decoding gives the code points back (compared as scalars: no normalization).
        #expect(Punycode.decode(encoded).map { Array($0.unicodeScalars) } == Array(unicode.unicodeScalars), "sample \(name)")
        // The digits are case-insensitive (RFC 3492 §5).
        #expect(Punycode.decode(encoded.uppercased()).map { Array($0.lowercased().unicodeScalars) } == Array(unicode.lowercased().unicodeScalars), "sample \(name)")
    }

    @Test func refusesWhatIsNotPunycode() {
        #expect(Punycode.decode("bcher-kv") == nil)  // a truncated number
        #expect(Punycode.decode("bcher-kva!") == nil)  // not a base-36 digit
        #expect(Punycode.decode("bücher-kva") == nil)  // not ASCII
        #expect(Punycode.decode("99999999999") == nil)  // overflow
        #expect(Punycode.encode("") == "")
        #expect(Punycode.decode("") == "")
    }
}

@Suite struct IDNATests {
    @Test(arguments: [
        ("bücher.de", "xn--bcher-kva.de"),
        ("BÜCHER.DE", "xn--bcher-kva.de"),
        ("bu\u{308}cher.de", "xn--bcher-kva.de"),  // NFD: normalized to NFC first
        ("mail.bücher.de", "mail.xn--bcher-kva.de"),
        ("例子.广告", "xn--fsqu00a.xn--4rr70v"),
        ("пример.рф", "xn--e1afmkfd.xn--p1ai"),
        ("bücher\u{3002}de", "xn--bcher-kva.de"),  // the ideographic full stop separates labels
        ("xn--bcher-kva.de", "xn--bcher-kva.de"),
        ("Example.COM", "example.com"),
    ])
    func convertsADomainToItsALabelForm(input: String, expected: String) throws {
        #expect(try IDNA.asciiDomain(input) == expected)
    }

    @Test func showsTheULabelForDisplay() {
        #expect(IDNA.unicodeDomain("mail.xn--bcher-kva.de") == "mail.bücher.de")
        #expect(IDNA.unicodeDomain("example.com") == "example.com")
        // An xn-- label that is not the A-label of a valid U-label is shown as it is.
        #expect(IDNA.unicodeDomain("xn--bcher-kv.de") == "xn--bcher-kv.de")
        #expect(IDNA.unicodeDomain("xn--Bcher-kva.de") == "bücher.de")
    }

    @Test func refusesALabelOver63OctetsAsAnALabel() throws {
        // 40 "ü" are 80 octets of UTF-8 (over 63 there) but 46 as an A-label: the A-label counts.
        #expect(try IDNA.asciiDomain(String(repeating: "ü", count: 40) + ".de") == "xn--tda" + String(repeating: "a", count: 39) + ".de")
        // 59 ASCII letters and one "ü" fit in 63 UTF-8 octets, not in an A-label (xn--, 59 letters, -, 3 digits).
        let label = String(repeating: "a", count: 58) + "ü"
        #expect(label.utf8.count <= 63)
        let error = #expect(throws: IDNA.Failure.self) { try IDNA.asciiDomain(label + ".de") }
        #expect(error?.description.contains("over 63") == true, "\(String(describing: error))")
    }

    @Test(arguments: ["bü cher.de", "b\u{1F600}cher.de", "bü\u{200D}cher.de", "\u{308}bcher.de", "üb--c.de", "b\u{FC}c\u{2122}.de"])
    func refusesWhatIDNA2008DoesNotAllow(domain: String) {
        #expect(throws: IDNA.Failure.self) { try IDNA.asciiDomain(domain) }
    }

    @Test func anAddressKeepsItsDomainInALabelFormAndShowsTheULabel() throws {
        let address = try EmailAddress("Jörg@Bücher.DE")
        #expect(address.localPart == "Jörg")
        #expect(address.domain == "xn--bcher-kva.de")
        #expect(address.description == "Jörg@xn--bcher-kva.de")
        #expect(address.displayDescription == "Jörg@bücher.de")
        #expect(address.needsSMTPUTF8)
        // The U-label and the A-label spelling are the same address.
        #expect(try EmailAddress("jörg@xn--bcher-kva.de") == EmailAddress("jörg@bücher.de"))
        #expect(try !EmailAddress("news@bücher.de").needsSMTPUTF8)
        #expect(IDNA.asciiAddress("b+1@bücher.de") == "b+1@xn--bcher-kva.de")
        #expect(IDNA.asciiAddress("jörg@example.com") == "jörg@example.com")
    }

    @Test func anAddressWithoutAnALabelFormIsRefusedSayingWhy() {
        let long = String(repeating: "a", count: 58) + "ü"
        let error = #expect(throws: KilnError.self) { try EmailAddress("x@\(long).de") }
        #expect(error?.code == .invalidAddress)
        #expect(error?.message.contains("no A-label form") == true, "\(String(describing: error))")
        #expect(error?.message.contains("over 63") == true, "\(String(describing: error))")
        #expect(!EmailAddress.isValidDomain("\(long).de"))
        #expect(throws: KilnError.self) { try EmailAddress("x@b\u{1F600}cher.de") }
    }
}
