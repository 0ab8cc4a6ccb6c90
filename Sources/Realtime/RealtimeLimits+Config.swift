import Configuration
import Core

extension RealtimeLimits {
    /// Reads the configurable `REALTIME_*` limits and `REALTIME_OPEN_TOPICS`
    /// (docs/configuration.md, "Realtime"); the others keep their defaults. Each error names
    /// the variable.
    public init(reader: ConfigReader) throws {
        self.init()
        bindingsPerChannel = try reader.integer(
            "realtime.maxBindingsPerChannel", variable: "REALTIME_MAX_BINDINGS_PER_CHANNEL", default: 10, in: 1...100)
        presenceMetaBytes = try reader.integer(
            "realtime.maxPresenceMetaBytes", variable: "REALTIME_MAX_PRESENCE_META_BYTES", default: 1024, in: 64...65_536)
        presencesPerKey = try reader.integer("realtime.maxPresencesPerKey", variable: "REALTIME_MAX_PRESENCES_PER_KEY", default: 10, in: 1...10_000)
        presencesPerTopic = try reader.integer(
            "realtime.maxPresencesPerTopic", variable: "REALTIME_MAX_PRESENCES_PER_TOPIC", default: 1000, in: 1...1_000_000)
        socketsPerAddress = try reader.integer(
            "realtime.maxSocketsPerAddress", variable: "REALTIME_MAX_SOCKETS_PER_ADDRESS", default: 64, in: 1...1_000_000)
        socketsPerUser = try reader.integer("realtime.maxSocketsPerUser", variable: "REALTIME_MAX_SOCKETS_PER_USER", default: 16, in: 1...10_000)
        idleTimeoutSeconds = try reader.integer(
            "realtime.idleTimeoutSeconds", variable: "REALTIME_IDLE_TIMEOUT_SECONDS", default: 60, in: 5...3_600)
        openTopicPrefixes = reader.list("realtime.openTopics")
    }
}
