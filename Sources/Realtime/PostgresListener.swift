import Logging
import PostgresNIO

/// LISTENs on one PostgreSQL channel on a dedicated connection until the task is cancelled,
/// reconnecting with backoff (100 ms doubling to 5 s) when the connection drops. Shared by
/// the PostgreSQL message bus and the listeners of feature modules (chat's outside writes).
public enum PostgresListener {
    /// - Parameters:
    ///   - listening: called each time the channel is listened on (after every reconnect).
    ///   - handle: each notification's payload, in order.
    public static func run(
        channel: String, configuration: PostgresConnection.Configuration, logger: Logger, listening: @Sendable () -> Void = {},
        _ handle: @Sendable (String) async -> Void
    ) async {
        var backoff: Duration = .milliseconds(100)
        while !Task.isCancelled {
            do {
                let connection = try await PostgresConnection.connect(configuration: configuration, id: 0, logger: logger)
                defer { Task { try? await connection.close() } }
                try await connection.listen(on: channel) { notifications in
                    listening()
                    backoff = .milliseconds(100)
                    for try await notification in notifications {
                        await handle(notification.payload)
                    }
                }
            } catch {
                if Task.isCancelled { return }
                logger.warning("listener lost its connection; reconnecting", metadata: ["channel": "\(channel)", "error": "\(error)"])
            }
            try? await Task.sleep(for: backoff)
            backoff = min(backoff * 2, .seconds(5))
        }
    }
}
