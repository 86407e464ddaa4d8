import CoreMetrics

/// The submission listener's metrics, through swift-metrics (the embedder's backend, or the
/// one passed in).
///
/// | name | type | labels |
/// |---|---|---|
/// | `kiln_submission_sessions_total` | counter | `listener` (`smtp`) |
/// | `kiln_submission_messages_total` | counter | `listener` (`smtp`), `result` (`accepted`, `refused`) |
struct SubmissionMetrics: Sendable {
    let factory: any MetricsFactory
    let listener: String

    func session() {
        Counter(label: "kiln_submission_sessions_total", dimensions: [("listener", listener)], factory: factory).increment()
    }

    func message(accepted: Bool) {
        Counter(label: "kiln_submission_messages_total", dimensions: [("listener", listener), ("result", accepted ? "accepted" : "refused")],
                factory: factory).increment()
    }
}
