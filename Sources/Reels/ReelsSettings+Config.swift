import Configuration
import Core

extension ReelsSettings {
    /// Reads the `REELS_*` variables (docs/configuration.md, "Reels"): the arbiter, the
    /// transcoding worker and the feed's session limits. Each error names the variable.
    public init(reader: ConfigReader) throws {
        self.init()
        arbiter = try ArbiterSettings(reader: reader)
        worker = try ReelsWorkerSettings(reader: reader)
        feed = try FeedLimitSettings(reader: reader)
    }
}

extension ArbiterSettings {
    /// `REELS_ARBITER_*`; the clear lag must stay below the suppress lag.
    public init(reader: ConfigReader) throws {
        self.init()
        intervalSeconds = try reader.integer("reels.arbiter.intervalSeconds", variable: "REELS_ARBITER_INTERVAL_SECONDS", default: 30, in: 1...3600)
        suppressLagSeconds = try reader.integer(
            "reels.arbiter.suppressLagSeconds", variable: "REELS_ARBITER_SUPPRESS_LAG_SECONDS", default: 900, in: 1...86_400)
        clearLagSeconds = try reader.integer("reels.arbiter.clearLagSeconds", variable: "REELS_ARBITER_CLEAR_LAG_SECONDS", default: 180, in: 0...86_400)
        greenStreakSeconds = try reader.integer(
            "reels.arbiter.greenStreakSeconds", variable: "REELS_ARBITER_GREEN_STREAK_SECONDS", default: 720, in: 0...86_400)
        minimumSuppressionSeconds = try reader.integer(
            "reels.arbiter.minSuppressionSeconds", variable: "REELS_ARBITER_MIN_SUPPRESSION_SECONDS", default: 600, in: 0...86_400)
        trafficFloor = try reader.integer(
            "reels.arbiter.trafficFloor", variable: "REELS_ARBITER_TRAFFIC_FLOOR", default: 20, in: 0...1_000_000_000)
        trafficWindowSeconds = try reader.integer(
            "reels.arbiter.trafficWindowSeconds", variable: "REELS_ARBITER_TRAFFIC_WINDOW_SECONDS", default: 300, in: 10...86_400)
        guard clearLagSeconds < suppressLagSeconds else {
            throw ConfigurationError("REELS_ARBITER_CLEAR_LAG_SECONDS must be below REELS_ARBITER_SUPPRESS_LAG_SECONDS")
        }
    }
}

extension ReelsWorkerSettings {
    /// `REELS_WORKER_CONCURRENCY`, `REELS_JOB_*`, `REELS_TRANSCODE_TIMEOUT_SECONDS` and
    /// `REELS_WORK_DIR`. The listen connection is set by the server, not read here.
    public init(reader: ConfigReader) throws {
        self.init()
        concurrency = try reader.integer("reels.worker.concurrency", variable: "REELS_WORKER_CONCURRENCY", default: 1, in: 1...64)
        leaseSeconds = try reader.integer("reels.job.leaseSeconds", variable: "REELS_JOB_LEASE_SECONDS", default: 30, in: 3...3600)
        pollSeconds = try reader.integer("reels.job.pollSeconds", variable: "REELS_JOB_POLL_SECONDS", default: 5, in: 1...3600)
        retryBaseSeconds = try reader.integer("reels.job.retryBaseSeconds", variable: "REELS_JOB_RETRY_BASE_SECONDS", default: 10, in: 1...3600)
        transcodeTimeoutSeconds = try reader.integer(
            "reels.transcode.timeoutSeconds", variable: "REELS_TRANSCODE_TIMEOUT_SECONDS", default: 900, in: 10...86_400)
        workDirectory = reader.nonEmptyString("reels.workDir")
    }
}

extension FeedLimitSettings {
    /// `REELS_FEED_SESSIONS_PER_MINUTE` and `REELS_FEED_ANONYMOUS_SESSIONS_PER_MINUTE`.
    public init(reader: ConfigReader) throws {
        self.init()
        sessionsPerMinute = try reader.integer(
            "reels.feed.sessionsPerMinute", variable: "REELS_FEED_SESSIONS_PER_MINUTE", default: 30, in: 1...10_000)
        anonymousSessionsPerMinute = try reader.integer(
            "reels.feed.anonymousSessionsPerMinute", variable: "REELS_FEED_ANONYMOUS_SESSIONS_PER_MINUTE", default: 30, in: 1...10_000)
    }
}
