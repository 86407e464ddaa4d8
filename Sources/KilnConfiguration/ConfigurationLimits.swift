import KilnCore

/// The range of every number a configuration may hold. `validate()` reports a value
/// outside its range with the value's JSON path, so that nothing downstream converts a
/// huge or tiny number into an integer or a duration that does not fit (a trap).
///
/// | key | range | unit |
/// |---|---|---|
/// | `pools[].ips` | 1 to 1,024 addresses | |
/// | `pools[].minIPs`, `maxIPs` | 1 to the number of `ips` | IPs |
/// | `pools[].warmupSchedule` | 1 to 3,650 days, each 1 to 1,000,000,000 | messages a day |
/// | `pools[].spillWaitSeconds` | 0 to 86,400 (a day) | seconds |
/// | `sharedPool.dailyLimit` | 0 to 1,000,000,000 | messages a day |
/// | `delivery.maxMessageAgeHours` | 0.001 to 8,760 (a year) | hours |
/// | `delivery.connectTimeoutSeconds` | 0.001 to 3,600 | seconds |
/// | `delivery.transferTimeoutSeconds` | 0.001 to 86,400 | seconds |
/// | `delivery.retryInitialSeconds` | 0.1 to 86,400 | seconds |
/// | `delivery.maxInFlight` | 1 to 100,000 | transfers |
/// | `delivery.transferThreads` | 1 to 256 | threads |
/// | `delivery.maxConnectionsPerDestination` | 1 to 10,000 | connections |
/// | `delivery.maxMessageBytes` | 1,024 to 1,073,741,824 (1 GiB) | bytes |
/// | `providers.<id>.coldHourly`, `warmHourly` | 0.01 to 1,000,000,000 | messages an hour |
/// | `providers.<id>.maxConnections` | 1 to 10,000 | connections |
/// | `providers.<id>.messagesPerConnection` | 1 to 1,000,000 | messages |
/// | `providers.<id>.throttleBackoffSeconds` | 0.001 to 604,800 (a week) | seconds |
/// | `configurationSets[].*Rate` | above 0, at most 1 | fraction |
/// | `configurationSets[].reputationMinimumVolume` | 1 to 1,000,000,000 | sends |
/// | `identities`, `pools`, `configurationSets` | at most 1,000 entries each | |
public enum ConfigurationLimits {
    public static let ipsPerPool = 1...1_024
    public static let warmupScheduleDays = 1...3_650
    public static let spillWaitSeconds: ClosedRange<Double> = 0...86_400
    public static let dailyVolume: ClosedRange<Double> = 1...1_000_000_000
    public static let dailyLimit = 0...1_000_000_000
    public static let maxMessageAgeHours: ClosedRange<Double> = 0.001...8_760
    public static let connectTimeoutSeconds: ClosedRange<Double> = 0.001...3_600
    public static let transferTimeoutSeconds: ClosedRange<Double> = 0.001...86_400
    public static let retryInitialSeconds: ClosedRange<Double> = 0.1...86_400
    public static let maxInFlight = 1...100_000
    public static let transferThreads = 1...256
    public static let connections = 1...10_000
    public static let maxMessageBytes = 1_024...1_073_741_824
    public static let hourly: ClosedRange<Double> = 0.01...1_000_000_000
    public static let messagesPerConnection = 1...1_000_000
    public static let throttleBackoffSeconds: ClosedRange<Double> = 0.001...604_800
    public static let reputationMinimumVolume = 1...1_000_000_000
    /// The most entries of `identities`, `pools`, `configurationSets`, `routes`,
    /// `allowedFromAddresses` and a pool's `dkim` keys.
    public static let listEntries = 1_000

    /// "must be between 0.001 and 3600" for a problem message.
    static func describe(_ range: ClosedRange<Double>) -> String {
        "must be a number from \(format(range.lowerBound)) to \(format(range.upperBound))"
    }
    static func describe(_ range: ClosedRange<Int>) -> String {
        "must be an integer from \(range.lowerBound) to \(range.upperBound)"
    }
    static func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : "\(value)"
    }
}

extension Configuration {
    /// Range problems of every number in the configuration (see `ConfigurationLimits`).
    func numericProblems() -> [ConfigurationProblem] {
        var problems: [ConfigurationProblem] = []
        func check(_ value: Double?, in range: ClosedRange<Double>, _ path: String) {
            guard let value else { return }
            if !(value.isFinite && range.contains(value)) {
                problems.append(ConfigurationProblem(path: path, message: "\(value) is out of range: \(ConfigurationLimits.describe(range))"))
            }
        }
        func check(_ value: Int?, in range: ClosedRange<Int>, _ path: String) {
            guard let value, !range.contains(value) else { return }
            problems.append(ConfigurationProblem(path: path, message: "\(value) is out of range: \(ConfigurationLimits.describe(range))"))
        }
        func checkCount(_ count: Int, _ path: String) {
            if count > ConfigurationLimits.listEntries {
                problems.append(ConfigurationProblem(path: path, message: "\(count) entries; at most \(ConfigurationLimits.listEntries)"))
            }
        }
        checkCount(identities.count, "identities")
        checkCount(pools.count, "pools")
        checkCount(configurationSets.count, "configurationSets")
        checkCount(delivery.routes?.count ?? 0, "delivery.routes")
        for (provider, list) in delivery.routes ?? [:] { checkCount(list.urls.count, "delivery.routes.\(provider)") }
        checkCount(delivery.nameservers?.count ?? 0, "delivery.nameservers")
        for (i, identity) in identities.enumerated() {
            checkCount(identity.allowedFromAddresses?.count ?? 0, "identities[\(i)].allowedFromAddresses")
            checkCount(identity.dkim?.count ?? 0, "identities[\(i)].dkim")
        }
        for (i, pool) in pools.enumerated() {
            let path = "pools[\(i)]"
            if pool.ips.count > ConfigurationLimits.ipsPerPool.upperBound {
                problems.append(ConfigurationProblem(path: "\(path).ips", message: "\(pool.ips.count) addresses; at most \(ConfigurationLimits.ipsPerPool.upperBound)"))
            }
            let ipRange = 1...max(1, pool.ips.count)
            check(pool.minIPs, in: ipRange, "\(path).minIPs")
            check(pool.maxIPs, in: ipRange, "\(path).maxIPs")
            check(pool.spillWaitSeconds, in: ConfigurationLimits.spillWaitSeconds, "\(path).spillWaitSeconds")
            if let schedule = pool.warmupSchedule {
                if schedule.count > ConfigurationLimits.warmupScheduleDays.upperBound {
                    problems.append(ConfigurationProblem(path: "\(path).warmupSchedule", message: "\(schedule.count) days; at most \(ConfigurationLimits.warmupScheduleDays.upperBound)"))
                } else {
                    for (day, volume) in schedule.enumerated() { check(volume, in: ConfigurationLimits.dailyVolume, "\(path).warmupSchedule[\(day)]") }
                }
            }
        }
        check(sharedPool?.dailyLimit, in: ConfigurationLimits.dailyLimit, "sharedPool.dailyLimit")
        check(delivery.maxMessageAgeHours, in: ConfigurationLimits.maxMessageAgeHours, "delivery.maxMessageAgeHours")
        check(delivery.connectTimeoutSeconds, in: ConfigurationLimits.connectTimeoutSeconds, "delivery.connectTimeoutSeconds")
        check(delivery.transferTimeoutSeconds, in: ConfigurationLimits.transferTimeoutSeconds, "delivery.transferTimeoutSeconds")
        check(delivery.maxInFlight, in: ConfigurationLimits.maxInFlight, "delivery.maxInFlight")
        check(delivery.retryInitialSeconds, in: ConfigurationLimits.retryInitialSeconds, "delivery.retryInitialSeconds")
        check(delivery.transferThreads, in: ConfigurationLimits.transferThreads, "delivery.transferThreads")
        check(delivery.maxMessageBytes, in: ConfigurationLimits.maxMessageBytes, "delivery.maxMessageBytes")
        check(delivery.maxConnectionsPerDestination, in: ConfigurationLimits.connections, "delivery.maxConnectionsPerDestination")
        for (name, profile) in (providers ?? [:]).sorted(by: { $0.key < $1.key }) {
            let path = "providers.\(name)"
            check(profile.coldHourly, in: ConfigurationLimits.hourly, "\(path).coldHourly")
            check(profile.warmHourly, in: ConfigurationLimits.hourly, "\(path).warmHourly")
            check(profile.maxConnections, in: ConfigurationLimits.connections, "\(path).maxConnections")
            check(profile.messagesPerConnection, in: ConfigurationLimits.messagesPerConnection, "\(path).messagesPerConnection")
            check(profile.throttleBackoffSeconds, in: ConfigurationLimits.throttleBackoffSeconds, "\(path).throttleBackoffSeconds")
        }
        for (i, set) in configurationSets.enumerated() {
            check(set.reputationMinimumVolume, in: ConfigurationLimits.reputationMinimumVolume, "configurationSets[\(i)].reputationMinimumVolume")
        }
        return problems
    }
}
