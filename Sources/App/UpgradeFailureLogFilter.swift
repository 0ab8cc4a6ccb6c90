import Logging

/// Hummingbird logs every connection that closes before its first request was read as an
/// error ("Error handling upgrade result": Inappropriate operation for state). Connections
/// closed by the header deadline or the per-address cap, and browsers' unused pre-connects,
/// all end that way; this handler logs those lines at debug level instead.
struct UpgradeFailureLogFilter: LogHandler {
    var base: any LogHandler

    var metadataProvider: Logger.MetadataProvider? {
        get { base.metadataProvider }
        set { base.metadataProvider = newValue }
    }

    var metadata: Logger.Metadata {
        get { base.metadata }
        set { base.metadata = newValue }
    }

    var logLevel: Logger.Level {
        get { base.logLevel }
        set { base.logLevel = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { base[metadataKey: key] }
        set { base[metadataKey: key] = newValue }
    }

    func log(event: LogEvent) {
        var event = event
        if event.level == .error, event.message.description == "Error handling upgrade result",
            case .string(let type)? = event.metadata?["error.type"], type.contains("Inappropriate operation for state")
        {
            guard base.logLevel <= .debug else { return }
            event.level = .debug
        }
        base.log(event: event)
    }

    /// `logger` with this filter in front of its handler.
    static func filtering(_ logger: Logger) -> Logger {
        var filtered = logger
        filtered.handler = UpgradeFailureLogFilter(base: logger.handler)
        return filtered
    }
}
