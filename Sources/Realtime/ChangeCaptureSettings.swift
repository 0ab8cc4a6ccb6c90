import Configuration
import Core
import Foundation

/// How this instance reads the published tables' change log (docs/configuration.md,
/// "Realtime").
public struct ChangeCaptureSettings: Sendable {
    /// The name this instance keeps its position in the log under, the same across restarts
    /// (`REALTIME_INSTANCE_NAME`; nil: the host name and port, chosen by the server).
    public var instanceName: String?
    /// How long changes stay in the log (`REALTIME_CHANGE_RETENTION_SECONDS`); an instance
    /// away for longer starts again from the present.
    public var retention = Duration.seconds(3_600)
    /// How long an instance that resumes with changes waiting holds them after start, so the
    /// clients it had reconnect first and receive them (`REALTIME_RESUME_GRACE_MS`).
    public var resumeGrace = Duration.milliseconds(3_000)
    /// Changes read from the log at once.
    public var pageSize = 500
    /// How often the log is read (`REALTIME_CHANGE_POLL_MS`): at most this much is added to a
    /// change's way to its subscribers.
    public var pollInterval = Duration.milliseconds(25)
    /// How often the publication is re-read for tables published or withdrawn.
    public var catalogInterval = Duration.seconds(5)

    public init() {}

    /// Reads the `REALTIME_*` variables above; each error names the variable.
    public init(reader: ConfigReader) throws {
        self.init()
        if let name = reader.nonEmptyString("realtime.instanceName") {
            // Counted as PostgreSQL counts (code points), where the position is kept.
            guard name.unicodeScalars.count <= 200 else {
                throw ConfigurationError("REALTIME_INSTANCE_NAME must be at most 200 characters")
            }
            instanceName = name
        }
        retention = try reader.seconds(
            "realtime.changeRetentionSeconds", variable: "REALTIME_CHANGE_RETENTION_SECONDS", default: 3_600, in: 60...604_800)
        pollInterval = .milliseconds(
            try reader.integer("realtime.changePollMs", variable: "REALTIME_CHANGE_POLL_MS", default: 25, in: 5...5_000))
        resumeGrace = .milliseconds(
            try reader.integer("realtime.resumeGraceMs", variable: "REALTIME_RESUME_GRACE_MS", default: 3_000, in: 0...60_000))
    }
}
