import Foundation
import Metrics

/// The arbiter's gauges on `/metrics` (swift-metrics; the app's Prometheus registry):
///
/// | metric | value |
/// |---|---|
/// | `reels_arbiter_suppressed` | 1 while the personalised feed is suppressed, else 0 |
/// | `reels_arbiter_event_lag_seconds` | the event lag (docs/reels.md, "Arbiter") |
/// | `reels_arbiter_impression_lag_seconds` | its impression part |
/// | `reels_arbiter_impressions` | impressions in the traffic window |
/// | `reels_arbiter_green_streak_seconds` | the current green streak while suppressed, else 0 |
/// | `reels_arbiter_last_evaluation_timestamp_seconds` | when the last evaluation ran (Unix time) |
/// | `reels_jobs_queue_depth` | unfinished transcoding jobs (queued or running) |
/// | `reels_jobs_oldest_age_seconds` | the oldest unfinished job's age |
/// | `reels_arbiter_decisions_total{decision}` | decisions this instance journaled |
///
/// Every instance sets the gauges after each evaluation, including one that found its window
/// already journaled by another instance (it shows that row's inputs).
public struct ArbiterMetrics: Sendable {
    private let factory: any MetricsFactory

    /// - Parameter factory: where the metrics go; the process-wide system by default.
    public init(factory: (any MetricsFactory)? = nil) {
        self.factory = factory ?? MetricsSystem.factory
    }

    /// Records an evaluation made or found at `now`.
    public func record(_ result: ArbiterEvaluator.Result, now: Date) {
        gauge("reels_arbiter_suppressed", result.state.suppressed ? 1 : 0)
        gauge("reels_arbiter_event_lag_seconds", result.inputs.eventLagSeconds)
        gauge("reels_arbiter_impression_lag_seconds", result.inputs.impressionLagSeconds)
        gauge("reels_arbiter_impressions", result.inputs.impressions)
        let streak = result.state.greenSince.map { ArbiterPolicy.seconds(now.timeIntervalSince($0)) } ?? 0
        gauge("reels_arbiter_green_streak_seconds", streak)
        Gauge(label: "reels_arbiter_last_evaluation_timestamp_seconds", factory: factory).record(now.timeIntervalSince1970)
        gauge("reels_jobs_queue_depth", result.inputs.queueDepth)
        gauge("reels_jobs_oldest_age_seconds", result.inputs.oldestJobAgeSeconds)
        if result.journaled {
            Counter(label: "reels_arbiter_decisions_total", dimensions: [("decision", result.decision.rawValue)], factory: factory).increment()
        }
    }

    private func gauge(_ label: String, _ value: Int) {
        Gauge(label: label, factory: factory).record(value)
    }
}
