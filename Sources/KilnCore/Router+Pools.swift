extension Router {
    /// `managed` scales a pool between its fewest and most IPs; `fixed` uses them all.
    public enum Scaling: String, Codable, Sendable { case managed, fixed }
    /// When a pool's excess goes to the shared relay.
    public enum Spillover: String, Codable, Sendable { case never, whileWarming, always }

    /// A named group of dedicated source addresses, as configured (`pools[]`); the
    /// router applies the defaults.
    public struct Pool: Codable, Sendable, Equatable {
        public var name: String
        /// Source addresses the pool may use (on loopback, 127.0.0.2 and up).
        public var ips: [String]
        /// The fewest IPs a managed pool keeps in use (default 1).
        public var minIPs: Int?
        /// The most IPs a managed pool takes (default: all of `ips`).
        public var maxIPs: Int?
        /// `managed` scales between minIPs and maxIPs; `fixed` uses every IP (default managed).
        public var scaling: Scaling?
        /// Whether excess goes to the shared pool (default whileWarming when a sharedPool
        /// is configured, else never). With whileWarming or always, a message that has
        /// waited half its maximum age goes to the shared pool whatever the IPs' warm-up.
        public var spillover: Spillover?
        /// With whileWarming or always: how long a message may wait for a token of the
        /// pool's IPs before it spills, in seconds (default 900; 0 spills at once). A burst of
        /// mail is paced out at the IPs' allowance rather than spilled beyond a minute's
        /// worth, so the allowance is used and the IPs warm up.
        public var spillWaitSeconds: Double?
        /// `adaptive` (default), `ses45`, `stages30`, or `custom` with `warmupSchedule`.
        public var warmup: String?
        /// Daily volumes per (IP, provider), day by day, for `warmup: custom`.
        public var warmupSchedule: [Double]?
        public init(name: String, ips: [String], minIPs: Int? = nil, maxIPs: Int? = nil, scaling: Scaling? = nil, spillover: Spillover? = nil,
                    warmup: String? = nil, warmupSchedule: [Double]? = nil, spillWaitSeconds: Double? = nil) {
            self.spillWaitSeconds = spillWaitSeconds
            self.warmup = warmup
            self.warmupSchedule = warmupSchedule
            self.name = name
            self.ips = ips
            self.minIPs = minIPs
            self.maxIPs = maxIPs
            self.scaling = scaling
            self.spillover = spillover
        }
    }

    /// The relay shared with others, for spill-over, as the router sees it.
    public struct SharedPool: Sendable, Hashable {
        /// Messages per day the relay accepts (nil: no limit).
        public var dailyLimit: Int?
        public init(dailyLimit: Int? = nil) { self.dailyLimit = dailyLimit }
    }
}
