import KilnCore

extension Configuration {
    /// How Kiln trusts what comes back (bounces, complaints) and how much of it it reads.
    ///
    /// | key | default | meaning |
    /// | --- | --- | --- |
    /// | `returnPathSecretEnv` / `returnPathSecretFile` | none | the HMAC key (at least 16 bytes) that signs the envelope sender `b+<id>-<mac>@returnPathDomain` |
    /// | `suppressUnmatched` | false | let feedback not traced by a signed return path suppress an address Kiln has sent to |
    /// | `maxReportBytes` | 10,485,760 | the largest report ingested; larger ones are skipped and named |
    /// | `maxHeaderBytes` | 16,384 | the longest rendered header field (folded, in octets); longer is a rendering failure |
    /// | `pauseOnAuthenticationFailures` | 20 | this many replies that the sender failed authentication (SPF, DKIM, DMARC, alignment: Gmail's X.7.26-X.7.40, Microsoft's 5.7.515) within 10 minutes on one configuration set pause it; 0 turns it off |
    public struct Feedback: Codable, Sendable, Equatable {
        public var returnPathSecretEnv: String?
        public var returnPathSecretFile: String?
        public var suppressUnmatched: Bool?
        public var maxReportBytes: Int?
        public var maxHeaderBytes: Int?
        public var pauseOnAuthenticationFailures: Int?

        public init(returnPathSecretEnv: String? = nil, returnPathSecretFile: String? = nil, suppressUnmatched: Bool? = nil,
                    maxReportBytes: Int? = nil, maxHeaderBytes: Int? = nil, pauseOnAuthenticationFailures: Int? = nil) {
            self.pauseOnAuthenticationFailures = pauseOnAuthenticationFailures
            self.returnPathSecretEnv = returnPathSecretEnv
            self.returnPathSecretFile = returnPathSecretFile
            self.suppressUnmatched = suppressUnmatched
            self.maxReportBytes = maxReportBytes
            self.maxHeaderBytes = maxHeaderBytes
        }

        /// The shortest accepted return-path secret, in bytes.
        public static let minimumSecretBytes = 16
        public static let defaultMaxReportBytes = 10 * 1024 * 1024
        public static let defaultMaxHeaderBytes = 16 * 1024
        public static let defaultPauseOnAuthenticationFailures = 20

        /// Every problem, each with its JSON path under `feedback`.
        public func validate() -> [ConfigurationProblem] {
            var problems: [ConfigurationProblem] = []
            if returnPathSecretEnv != nil && returnPathSecretFile != nil {
                problems.append(ConfigurationProblem(path: "feedback.returnPathSecretFile", message: "give returnPathSecretEnv or returnPathSecretFile, not both"))
            }
            if let env = returnPathSecretEnv, env.isEmpty {
                problems.append(ConfigurationProblem(path: "feedback.returnPathSecretEnv", message: "must not be empty"))
            }
            if let file = returnPathSecretFile, file.isEmpty {
                problems.append(ConfigurationProblem(path: "feedback.returnPathSecretFile", message: "must not be empty"))
            }
            if let bytes = maxReportBytes, bytes < 1024 {
                problems.append(ConfigurationProblem(path: "feedback.maxReportBytes", message: "must be at least 1024"))
            }
            // 998 octets is one unfolded line (RFC 5322 2.1.1); a field may fold over several.
            if let bytes = maxHeaderBytes, bytes < 998 {
                problems.append(ConfigurationProblem(path: "feedback.maxHeaderBytes", message: "must be at least 998"))
            }
            if let count = pauseOnAuthenticationFailures, !(0...1_000_000).contains(count) {
                problems.append(ConfigurationProblem(path: "feedback.pauseOnAuthenticationFailures", message: "must be between 0 (off) and 1000000"))
            }
            return problems
        }
    }

    /// The `feedback` section, or its defaults.
    public var feedbackSettings: Feedback { feedback ?? Feedback() }
}

extension Configuration.Feedback {
    /// Whether feedback not traced by a signed return path may suppress (default false).
    public var suppressesUnmatched: Bool { suppressUnmatched ?? false }
    /// The largest report ingested, in bytes (default 10 MiB).
    public var reportLimit: Int { maxReportBytes ?? Self.defaultMaxReportBytes }
    /// The longest rendered header field, in octets (default 16 KiB).
    public var headerLimit: Int { maxHeaderBytes ?? Self.defaultMaxHeaderBytes }
    /// Authentication failures within `AuthenticationWatch.window` that pause a
    /// configuration set (default 20; 0: never).
    public var authenticationFailureLimit: Int { pauseOnAuthenticationFailures ?? Self.defaultPauseOnAuthenticationFailures }
    /// Whether a return-path secret is configured.
    public var signsReturnPath: Bool { returnPathSecretEnv != nil || returnPathSecretFile != nil }
}
