import Foundation
import PostgresNIO

/// The transcoding worker's tunables (`REELS_WORKER_*`, `REELS_JOB_*`, `REELS_TRANSCODE_*`;
/// docs/configuration.md).
public struct ReelsWorkerSettings: Sendable {
    /// Jobs one worker process runs at once (`REELS_WORKER_CONCURRENCY`).
    public var concurrency = 1
    /// How long a claim holds a job without a heartbeat (`REELS_JOB_LEASE_SECONDS`); the
    /// worker renews it every third of that.
    public var leaseSeconds = 30
    /// How often an idle worker looks for due jobs besides the NOTIFY wake-up
    /// (`REELS_JOB_POLL_SECONDS`): retries whose backoff ended and expired leases.
    public var pollSeconds = 5
    /// First retry delay; each further attempt doubles it, up to an hour
    /// (`REELS_JOB_RETRY_BASE_SECONDS`).
    public var retryBaseSeconds = 10
    /// Bound on each ffmpeg / ffprobe run (`REELS_TRANSCODE_TIMEOUT_SECONDS`).
    public var transcodeTimeoutSeconds = 900
    /// Where originals are downloaded and outputs made (`REELS_WORK_DIR`; default: the
    /// system's temporary directory).
    public var workDirectory: String?
    /// The dedicated connection idle loops `LISTEN reels_jobs` on (the server sets it from
    /// the database URL); nil: no listener, the loops only poll.
    public var listenConfiguration: PostgresConnection.Configuration?

    public init() {}
}
