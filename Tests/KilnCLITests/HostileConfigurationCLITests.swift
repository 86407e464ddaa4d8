import Foundation
import Testing

/// `kiln` fed hostile configurations: each must exit with status 2 and name where the
/// problem is (a JSON path, or a line and column), and none may die of a signal.
@Suite struct HostileConfigurationCLITests {
    static let base = """
        {"store": {"path": "kiln.sqlite"}, "senderId": "Test", "identities": [{"domain": "example.com"}],
         "pools": [{"name": "p", "ips": ["127.0.0.2"]}],
         "delivery": {"mode": "routes", "routes": {"*": "smtp://127.0.0.1:2525"}, "heloName": "mta.example.com"},
         "configurationSets": [{"name": "c", "pool": "p"}]}
        """

    struct Hostile: CustomStringConvertible, Sendable {
        var name: String
        var bytes: [UInt8]
        /// What stderr must contain: the JSON path, or `line `.
        var location: String
        var description: String { name }

        init(_ name: String, _ text: String, _ location: String) {
            self.init(name, Array(text.utf8), location)
        }
        init(_ name: String, _ bytes: [UInt8], _ location: String) {
            self.name = name
            self.bytes = bytes
            self.location = location
        }
    }

    static func replacing(_ anchor: String, _ replacement: String) -> String {
        base.replacingOccurrences(of: anchor, with: replacement)
    }

    static let pool = "\"ips\": [\"127.0.0.2\"]"
    static let helo = "\"heloName\": \"mta.example.com\""
    static let sets = "\"configurationSets\""
    static let set = "\"pool\": \"p\"}"

    /// (JSON path, anchor, text with VALUE, wants an integer)
    static let numericKeys: [(String, String, String, Bool)] = [
        ("delivery.transferTimeoutSeconds", helo, helo + ", \"transferTimeoutSeconds\": VALUE", false),
        ("delivery.connectTimeoutSeconds", helo, helo + ", \"connectTimeoutSeconds\": VALUE", false),
        ("delivery.maxMessageAgeHours", helo, helo + ", \"maxMessageAgeHours\": VALUE", false),
        ("delivery.maxInFlight", helo, helo + ", \"maxInFlight\": VALUE", true),
        ("providers.gmail.coldHourly", sets, "\"providers\": {\"gmail\": {\"coldHourly\": VALUE}}, " + sets, false),
        ("providers.yahoo.warmHourly", sets, "\"providers\": {\"yahoo\": {\"coldHourly\": 0.01, \"warmHourly\": VALUE}}, " + sets, false),
        ("providers.other.throttleBackoffSeconds", sets, "\"providers\": {\"other\": {\"throttleBackoffSeconds\": VALUE}}, " + sets, false),
        ("providers.apple.maxConnections", sets, "\"providers\": {\"apple\": {\"maxConnections\": VALUE}}, " + sets, true),
        ("pools[0].warmupSchedule[0]", pool, pool + ", \"warmup\": \"custom\", \"warmupSchedule\": [VALUE]", false),
        ("pools[0].minIPs", pool, pool + ", \"minIPs\": VALUE", true),
        ("configurationSets[0].reputationMinimumVolume", set, "\"pool\": \"p\", \"reputationMinimumVolume\": VALUE}", true),
    ]

    static let numbers = ["1e19", "1e300", "-1e300", "1e-300", "9223372036854775808", "1e400", "\"NaN\""]

    static var cases: [Hostile] {
        var cases: [Hostile] = []
        for (path, anchor, text, integer) in numericKeys {
            for value in numbers + (integer ? ["1.5", "1e20"] : ["0"]) {
                cases.append(Hostile("\(path) = \(value)", replacing(anchor, text.replacingOccurrences(of: "VALUE", with: value)), path))
            }
        }
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        cases += [
            Hostile("1e308 in a custom warm-up schedule", replacing(pool, pool + ", \"warmup\": \"custom\", \"warmupSchedule\": [50, 1e308]"), "pools[0].warmupSchedule[1]"),
            Hostile("nesting 100,000 deep", replacing(helo, helo + ", \"x\": " + deep), "delivery.x[0][0]"),
            Hostile("a non-UTF-8 byte", Array(base.utf8.prefix(30)) + [0xFF] + Array(base.utf8.dropFirst(30)), "line 1"),
            Hostile("truncated", String(base.prefix(60)), "line "),
            Hostile("a duplicate top-level key", replacing(sets, "\"senderId\": \"Again\", " + sets), "senderId"),
            Hostile("a duplicate nested key", replacing(helo, helo + ", \"heloName\": \"other.example.com\""), "delivery.heloName"),
            Hostile("a duplicate key spelled with an escape", replacing(helo, helo + ", \"helo\\u004eame\": \"x.example.com\""), "delivery.heloName"),
            Hostile("an unknown provider id", replacing(sets, "\"providers\": {\"gmial\": {\"coldHourly\": 5}}, " + sets), "providers.gmial"),
            Hostile("an unknown route provider", replacing("{\"*\":", "{\"hotmail\": \"smtp://127.0.0.1:2526\", \"*\":"), "delivery.routes.hotmail"),
            Hostile("secretEnv and secretFile", replacing(set, "\"pool\": \"p\", \"unsubscribe\": {\"url\": \"https://e.com/u\", \"secretEnv\": \"K\", \"secretFile\": \"k\"}}"),
                    "configurationSets[0].unsubscribe"),
            Hostile("passwordEnv and passwordFile", replacing(sets, "\"sharedPool\": {\"url\": \"smtp://127.0.0.1:2600\", \"usernameEnv\": \"U\", \"passwordEnv\": \"P\", \"passwordFile\": \"p\"}, " + sets),
                    "sharedPool"),
            Hostile("a NUL in store.path", replacing("\"kiln.sqlite\"", "\"kiln\\u0000.sqlite\""), "store.path"),
            Hostile("a NUL in a key file", replacing("{\"domain\": \"example.com\"}", "{\"domain\": \"example.com\", \"dkim\": [{\"selector\": \"s\", \"algorithm\": \"rsa-sha256\", \"privateKeyFile\": \"k\\u0000.pem\"}]}"),
                    "identities[0].dkim[0].privateKeyFile"),
            Hostile("a fraction for an integer", replacing(helo, helo + ", \"maxConnectionsPerDestination\": 2.5"), "delivery.maxConnectionsPerDestination"),
            Hostile("5,000 warm-up days", replacing(pool, pool + ", \"warmup\": \"custom\", \"warmupSchedule\": [" + Array(repeating: "5", count: 5_000).joined(separator: ",") + "]"),
                    "pools[0].warmupSchedule"),
        ]
        return cases
    }

    @Test func thereAreAtLeastFiftyHostileConfigurations() {
        #expect(Self.cases.count >= 50)
    }

    @Test(arguments: cases)
    func configCheckAndStatusExitTwoNamingWhere(hostile: Hostile) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-hostile-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let config = directory + "/kiln.json"
        try Data(hostile.bytes).write(to: URL(fileURLWithPath: config))
        for command in [["config", "check"], ["status"]] {
            let result = try await kiln(command + ["--config", config])
            #expect(!result.signaled, "kiln \(command.joined(separator: " ")) died of signal \(result.status)")
            #expect(result.status == 2, "kiln \(command.joined(separator: " ")): \(result.stderr)")
            #expect(result.stderr.contains(hostile.location), "kiln \(command.joined(separator: " ")): \(result.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: directory + "/kiln.sqlite"), "a store was created for an invalid configuration")
    }
}
