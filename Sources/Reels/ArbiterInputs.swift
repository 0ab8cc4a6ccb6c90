import Foundation

/// What the arbiter measured at one evaluation (journaled as the decision's `inputs`).
///
/// Event lag (docs/reels.md, "Arbiter") is the larger of two delays, in whole seconds:
/// - the impression lag: while views keep arriving (a view in the traffic window), the age
///   of the newest impression (since the first view when there is none) — clients watch
///   reels but the impressions the feed learns from are not being recorded; 0 while no
///   views arrive (an idle service is not late);
/// - the pipeline lag: the age of the oldest unfinished transcoding job (`queued`, including
///   one waiting out a retry backoff, or `running`) — how long an uploaded reel has waited
///   to become watchable; 0 with an empty queue.
public struct ArbiterInputs: Sendable, Equatable, Codable {
    /// Impressions recorded in the traffic window (the traffic).
    public var impressions: Int
    /// The traffic window's length in seconds.
    public var trafficWindowSeconds: Int
    /// Whether a view arrived in the traffic window.
    public var viewsArriving: Bool
    /// See the type's documentation.
    public var impressionLagSeconds: Int
    /// Unfinished jobs (`queued` or `running`) in `reels.jobs`.
    public var queueDepth: Int
    /// The oldest unfinished job's age (the pipeline lag); 0 with an empty queue.
    public var oldestJobAgeSeconds: Int
    /// Tables that did not exist when measured (their measures count as 0).
    public var missing: [String]

    public init(
        impressions: Int = 0, trafficWindowSeconds: Int = 300, viewsArriving: Bool = false, impressionLagSeconds: Int = 0,
        queueDepth: Int = 0, oldestJobAgeSeconds: Int = 0, missing: [String] = []
    ) {
        self.impressions = impressions
        self.trafficWindowSeconds = trafficWindowSeconds
        self.viewsArriving = viewsArriving
        self.impressionLagSeconds = impressionLagSeconds
        self.queueDepth = queueDepth
        self.oldestJobAgeSeconds = oldestJobAgeSeconds
        self.missing = missing
    }

    /// The event lag: the larger of the impression lag and the pipeline lag.
    public var eventLagSeconds: Int { max(impressionLagSeconds, oldestJobAgeSeconds) }

    enum CodingKeys: String, CodingKey {
        case impressions
        case trafficWindowSeconds = "traffic_window_seconds"
        case viewsArriving = "views_arriving"
        case impressionLagSeconds = "impression_lag_seconds"
        case queueDepth = "queue_depth"
        case oldestJobAgeSeconds = "oldest_job_age_seconds"
        case missing
    }
}
