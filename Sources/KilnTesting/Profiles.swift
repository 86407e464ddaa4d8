import KilnCore

extension ProviderProfile.Override {
    /// Provider profiles so large (a million an hour from a cold IP) that warm-up never
    /// holds a message back: for tests and benchmarks of the delivery path itself.
    public static var unthrottled: [String: ProviderProfile.Override] {
        let roomy = ProviderProfile.Override(coldHourly: 1_000_000, warmHourly: 10_000_000)
        return Dictionary(uniqueKeysWithValues: ["gmail", "microsoft", "yahoo", "apple", "other"].map { ($0, roomy) })
    }
}
