import CoreMetrics
import KilnCore

/// The engine's metrics, through swift-metrics: whatever backend the embedder bootstrapped
/// (the CLI's is Prometheus), or the one passed in. Names and labels:
///
/// | name | type | labels |
/// |---|---|---|
/// | `kiln_attempts_total` | counter | `provider`, `ip` (`shared` for the relay), `class` |
/// | `kiln_messages` | gauge | `state` |
/// | `kiln_warmup_level` | gauge (0–1) | `ip`, `provider` |
/// | `kiln_hourly_allowance` | gauge | `ip`, `provider` |
/// | `kiln_spillover_total` | counter | `provider` |
/// | `kiln_pair_signals_total` | counter | `signal` (`congestion`, `block`, `escalation`), `provider`, `ip` |
/// | `kiln_inflight_transfers` | gauge | |
/// | `kiln_transfer_duration_seconds` | histogram (timer) | `provider` |
/// | `kiln_reputation_rate` | gauge | `configuration_set`, `kind` (bounce, complaint) |
/// | `kiln_paused` | gauge (0/1) | `scope` |
/// | `kiln_pool_ips` | gauge | `pool` |
/// | `kiln_events_pending` | gauge | `destination` |
public final class EngineMetrics: Sendable {
    let factory: any MetricsFactory

    /// - Parameter factory: the backend (nil: `MetricsSystem.factory`, as bootstrapped).
    public init(factory: (any MetricsFactory)? = nil) {
        self.factory = factory ?? MetricsSystem.factory
    }

    /// One finished attempt: `class` is the reply's class (`success`, `throttle`, ...);
    /// `duration`: the transfer's, from its start on a connection to the reply.
    func attempt(provider: String, ip: String, replyClass: String, duration: Duration?) {
        Counter(label: "kiln_attempts_total", dimensions: [("provider", provider), ("ip", ip), ("class", replyClass)], factory: factory).increment()
        if let duration {
            Timer(label: "kiln_transfer_duration_seconds", dimensions: [("provider", provider)], preferredDisplayUnit: .seconds, factory: factory)
                .recordNanoseconds(duration.nanoseconds)
        }
    }

    /// A behavioural signal slowed or suspended a pair (`PairSignal`).
    func signal(_ signal: String, provider: String, ip: String) {
        Counter(label: "kiln_pair_signals_total", dimensions: [("signal", signal), ("provider", provider), ("ip", ip)], factory: factory).increment()
    }

    func spillover(provider: String) {
        Counter(label: "kiln_spillover_total", dimensions: [("provider", provider)], factory: factory).increment()
    }

    func eventsPending(_ destination: String, _ count: Int) {
        gauge("kiln_events_pending", [("destination", destination)], Double(count))
    }

    func gauge(_ label: String, _ dimensions: [(String, String)], _ value: Double) {
        Gauge(label: label, dimensions: dimensions, factory: factory).record(value)
    }
}
