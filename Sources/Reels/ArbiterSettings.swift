/// The Reels Arbiter's tunables (`REELS_ARBITER_*`, docs/configuration.md). The defaults are
/// the spec's thresholds (docs/reels.md, "Arbiter").
public struct ArbiterSettings: Sendable, Equatable {
    /// Seconds between evaluations; also the length of the journal's idempotency window.
    public var intervalSeconds = 30
    /// Event lag at or above which a thin-traffic pipeline is suppressed.
    public var suppressLagSeconds = 900
    /// Event lag at or below which an evaluation counts as green.
    public var clearLagSeconds = 180
    /// How long an unbroken green streak must last before suppression clears.
    public var greenStreakSeconds = 720
    /// The least time suppression lasts once on.
    public var minimumSuppressionSeconds = 600
    /// Impressions in the traffic window below which traffic counts as thin.
    public var trafficFloor = 20
    /// The window impressions (the traffic) and arriving views are counted over.
    public var trafficWindowSeconds = 300

    public init() {}

    /// The pure decision rules these settings describe.
    public var policy: ArbiterPolicy {
        ArbiterPolicy(
            suppressLagSeconds: suppressLagSeconds, clearLagSeconds: clearLagSeconds, greenStreakSeconds: greenStreakSeconds,
            minimumSuppressionSeconds: minimumSuppressionSeconds, trafficFloor: trafficFloor,
            maximumGapSeconds: max(3 * intervalSeconds, 60))
    }
}
