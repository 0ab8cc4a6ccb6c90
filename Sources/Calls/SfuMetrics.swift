import Metrics

/// The SFU's figures on `/metrics` (swift-metrics; the app's Prometheus registry), as this
/// instance sees them:
///
/// | metric | value |
/// |---|---|
/// | `sfu_node_up{node}` | 1 while the node answers this instance's probes, else 0 |
/// | `sfu_participants` | devices with a Janus participant on this instance |
/// | `sfu_node_failures_total{node}` | times this instance found the node dead |
/// | `sfu_room_recoveries_total{reason}` | recoveries started: rooms placed again (`node_failed`, `room_lost`) or participants made again (`session_lost`) |
/// | `sfu_participants_taken_over_total` | participants this instance took over from another (their devices came back here) |
struct SfuMetrics: Sendable {
    private let factory: any MetricsFactory

    init(factory: (any MetricsFactory)? = nil) {
        self.factory = factory ?? MetricsSystem.factory
    }

    func node(_ id: String, up: Bool) {
        Gauge(label: "sfu_node_up", dimensions: [("node", id)], factory: factory).record(up ? 1 : 0)
    }

    func participants(_ count: Int) {
        Gauge(label: "sfu_participants", factory: factory).record(count)
    }

    func nodeFailed(_ id: String) {
        Counter(label: "sfu_node_failures_total", dimensions: [("node", id)], factory: factory).increment()
    }

    func takenOver() {
        Counter(label: "sfu_participants_taken_over_total", factory: factory).increment()
    }

    func recovered(_ reason: String) {
        Counter(label: "sfu_room_recoveries_total", dimensions: [("reason", reason)], factory: factory).increment()
    }
}
