import Foundation
import KilnConfiguration
import KilnCore
import Testing

/// Every number a configuration holds, fed extreme values: each must come back as a
/// `KilnError` naming the key's JSON path, never a trap.
@Suite struct ConfigurationRangeTests {
    /// Where a numeric key goes in `ConfigurationTests.minimal`, and whether it wants an
    /// integer. `VALUE` is replaced by the JSON text under test.
    struct Key: CustomStringConvertible, Sendable {
        var path: String
        var integer: Bool
        /// Rates are fractions in (0, 1]: 1e-300 is a valid rate.
        var fraction = false
        /// `sharedPool.dailyLimit` may be 0 (send nothing through the relay), and
        /// `pools[].spillWaitSeconds` (spill at once): there 0 and tiny numbers are valid.
        var zeroAllowed = false
        var anchor: String
        var insertion: String
        var valid: String
        var description: String { path }

        func json(_ value: String) -> String {
            ConfigurationTests.minimal.replacingOccurrences(of: anchor, with: insertion.replacingOccurrences(of: "VALUE", with: value))
        }
    }

    static let pool = "\"ips\": [\"127.0.0.2\"]"
    static let delivery = "\"heloName\": \"mta.example.com\""
    static let set = "\"pool\": \"p\""
    static let top = "\"configurationSets\""

    static let keys: [Key] = [
        Key(path: "pools[0].minIPs", integer: true, anchor: pool, insertion: pool + ", \"minIPs\": VALUE", valid: "1"),
        Key(path: "pools[0].maxIPs", integer: true, anchor: pool, insertion: pool + ", \"maxIPs\": VALUE", valid: "1"),
        Key(path: "pools[0].warmupSchedule[0]", integer: false, anchor: pool, insertion: pool + ", \"warmup\": \"custom\", \"warmupSchedule\": [VALUE]", valid: "50"),
        Key(path: "sharedPool.dailyLimit", integer: true, zeroAllowed: true, anchor: top, insertion: "\"sharedPool\": {\"url\": \"smtp://127.0.0.1:2600\", \"dailyLimit\": VALUE}, " + top, valid: "1000"),
        Key(path: "delivery.maxMessageAgeHours", integer: false, anchor: delivery, insertion: delivery + ", \"maxMessageAgeHours\": VALUE", valid: "72"),
        Key(path: "delivery.connectTimeoutSeconds", integer: false, anchor: delivery, insertion: delivery + ", \"connectTimeoutSeconds\": VALUE", valid: "30"),
        Key(path: "delivery.transferTimeoutSeconds", integer: false, anchor: delivery, insertion: delivery + ", \"transferTimeoutSeconds\": VALUE", valid: "300"),
        Key(path: "delivery.maxInFlight", integer: true, anchor: delivery, insertion: delivery + ", \"maxInFlight\": VALUE", valid: "256"),
        Key(path: "delivery.transferThreads", integer: true, anchor: delivery, insertion: delivery + ", \"transferThreads\": VALUE", valid: "8"),
        Key(path: "delivery.maxConnectionsPerDestination", integer: true, anchor: delivery, insertion: delivery + ", \"maxConnectionsPerDestination\": VALUE", valid: "10"),
        Key(path: "providers.gmail.coldHourly", integer: false, anchor: top, insertion: "\"providers\": {\"gmail\": {\"coldHourly\": VALUE}}, " + top, valid: "20"),
        Key(path: "providers.gmail.warmHourly", integer: false, anchor: top, insertion: "\"providers\": {\"gmail\": {\"coldHourly\": 0.01, \"warmHourly\": VALUE}}, " + top, valid: "50000"),
        Key(path: "providers.yahoo.maxConnections", integer: true, anchor: top, insertion: "\"providers\": {\"yahoo\": {\"maxConnections\": VALUE}}, " + top, valid: "5"),
        Key(path: "providers.apple.messagesPerConnection", integer: true, anchor: top, insertion: "\"providers\": {\"apple\": {\"messagesPerConnection\": VALUE}}, " + top, valid: "5"),
        Key(path: "providers.other.throttleBackoffSeconds", integer: false, anchor: top, insertion: "\"providers\": {\"other\": {\"throttleBackoffSeconds\": VALUE}}, " + top, valid: "900"),
        Key(path: "configurationSets[0].reputationMinimumVolume", integer: true, anchor: set, insertion: set + ", \"reputationMinimumVolume\": VALUE", valid: "1000"),
        Key(path: "configurationSets[0].bounceReviewRate", integer: false, fraction: true, anchor: set, insertion: set + ", \"bounceReviewRate\": VALUE", valid: "0.05"),
        Key(path: "configurationSets[0].bouncePauseRate", integer: false, fraction: true, anchor: set, insertion: set + ", \"bouncePauseRate\": VALUE", valid: "0.2"),
        Key(path: "configurationSets[0].complaintReviewRate", integer: false, fraction: true, anchor: set, insertion: set + ", \"complaintReviewRate\": VALUE", valid: "0.001"),
        Key(path: "configurationSets[0].complaintPauseRate", integer: false, fraction: true, anchor: set, insertion: set + ", \"complaintPauseRate\": VALUE", valid: "0.005"),
        Key(path: "pools[0].spillWaitSeconds", integer: false, zeroAllowed: true, anchor: pool, insertion: pool + ", \"spillWaitSeconds\": VALUE", valid: "900"),
    ]

    /// Refused for every numeric key.
    static let alwaysBad = ["-1", "-1e300", "1e300", "1e19", "1e21", "1e308", "9223372036854775808", "9223372036854775807",
                            "18446744073709551616", "1e400", "-1e400", "1e-400", "\"NaN\"", "\"nan\"", "\"Infinity\"", "\"-inf\"", "\"1e3\"", "true", "[]", "{}"]
    /// Refused where an integer is wanted.
    static let badIntegers = ["0.5", "1.5", "-0.5", "1e20", "2.5e-3", "1e-300"]
    /// Refused for rates and durations; `0` and tiny numbers.
    static let badDoubles = ["0", "1e-300", "-0.0", "5e-324"]
    static let badFractions = ["0", "1.0000001", "2"]

    static var cases: [(Key, String)] {
        keys.flatMap { key in
            let extra = key.integer ? badIntegers + (key.zeroAllowed ? [] : ["0"]) : (key.fraction ? badFractions : (key.zeroAllowed ? [] : badDoubles))
            return (alwaysBad + extra).map { (key, $0) }
        }
    }

    func load(_ json: String) -> KilnError? {
        do {
            _ = try Configuration.load(json: Data(json.utf8))
            return nil
        } catch {
            return error
        }
    }

    @Test func everyKeyTakesASaneValue() {
        for key in Self.keys {
            #expect(load(key.json(key.valid)) == nil, "\(key.path) = \(key.valid): \(load(key.json(key.valid))?.description ?? "")")
        }
    }

    @Test(arguments: cases)
    func anExtremeValueIsAnErrorNamingItsPath(key: Key, value: String) throws {
        let error = try #require(load(key.json(value)), "\(key.path) = \(value) was accepted")
        #expect(error.code == .invalidConfiguration)
        #expect(error.description.contains(key.path + ":"), "\(key.path) = \(value): \(error.description)")
    }

    @Test func aFractionWhereAnIntegerIsExpectedNamesTheKey() throws {
        let key = try #require(Self.keys.first { $0.path == "delivery.maxInFlight" })
        let error = load(key.json("1.5"))
        #expect(error?.description.contains("delivery.maxInFlight: expected an integer, found 1.5") == true, "\(error?.description ?? "")")
    }

    @Test(arguments: [
        ("pools[0].warmupSchedule", "\"warmup\": \"custom\", \"warmupSchedule\": [" + Array(repeating: "1", count: 5_000).joined(separator: ",") + "]"),
        ("pools[0].ips", "\"ips\": [" + (0..<2_000).map { "\"10.0.\($0 / 256).\($0 % 256)\"" }.joined(separator: ",") + "]"),
    ])
    func hugeArraysAreRefused(path: String, replacement: String) {
        let json = ConfigurationTests.minimal.replacingOccurrences(of: Self.pool, with: replacement.hasPrefix("\"ips\"") ? replacement : Self.pool + ", " + replacement)
        #expect(load(json)?.description.contains(path + ":") == true)
    }

    @Test(arguments: [
        ("delivery.transferTimeoutSeconds", 1e19), ("delivery.connectTimeoutSeconds", 1e300), ("delivery.maxMessageAgeHours", 1e17),
    ])
    func theIssuesExamplesAreRefusedByValidate(path: String, value: Double) {
        var configuration = ConfigurationTests.minimalConfiguration
        switch path {
        case "delivery.transferTimeoutSeconds": configuration.delivery.transferTimeoutSeconds = value
        case "delivery.connectTimeoutSeconds": configuration.delivery.connectTimeoutSeconds = value
        default: configuration.delivery.maxMessageAgeHours = value
        }
        #expect(configuration.validate().map(\.path) == [path])
        _ = configuration.maxMessageAge  // converts without trapping
    }

    @Test(arguments: [1e-300, 1e300, -1e300, .nan, .infinity])
    func providerOverridesNeverTrapEvenUnvalidated(value: Double) {
        let overrides = ["gmail": Configuration.ProviderProfileOverride(coldHourly: value, warmHourly: value, throttleBackoffSeconds: value)]
        let profile = ProviderProfile.resolve(.gmail, overrides: overrides)
        var bucket = TokenBucket(hourly: value, burst: 1)
        _ = bucket.take(now: Timestamp(nanoseconds: 0))
        _ = Timestamp(nanoseconds: 0) + profile.throttleBackoff
        #expect(Configuration(store: .init(path: "k"), senderId: "S", identities: [], pools: [], delivery: .init(mode: .mx, heloName: "h"),
                              providers: overrides, configurationSets: []).validate().contains { $0.path == "providers.gmail.coldHourly" })
    }
}
