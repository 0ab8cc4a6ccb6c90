/// The reels tunables read from the environment (docs/configuration.md, `REELS_*`).
/// Upload policies that operators change at run time live in the database instead.
public struct ReelsSettings: Sendable {
    /// The arbiter's loop (`REELS_ARBITER_*`).
    public var arbiter = ArbiterSettings()
    /// The transcoding worker (`REELS_WORKER_*`, `REELS_JOB_*`, `REELS_TRANSCODE_*`).
    public var worker = ReelsWorkerSettings()
    /// The feed's limit on new sessions (`REELS_FEED_*`).
    public var feed = FeedLimitSettings()

    public init() {}
}
