import Foundation
import Logging
import PostgresNIO

/// Decides which PostgreSQL server the application uses and makes it ready.
///
/// `DATABASE_URL` set: that server. Unset: the embedded cluster under the data directory,
/// started if needed (and stopped by ``release()`` if this process started it).
public final class DatabaseLocator: Sendable {
    /// The URL the application connects to.
    public let url: DatabaseURL
    /// Where the data lives, for the start-up banner.
    public let location: String
    private let embedded: EmbeddedPostgres?
    private let startedEmbedded: Bool

    public init(databaseURL: String?, dataDirectory: URL, logger: Logger) async throws {
        if let databaseURL, !databaseURL.isEmpty {
            self.url = try DatabaseURL(parsing: databaseURL)
            self.location = url.description
            self.embedded = nil
            self.startedEmbedded = false
            return
        }
        let embedded = try EmbeddedPostgres(dataDirectory: dataDirectory, logger: logger)
        let (url, started) = try embedded.start()
        self.url = url
        self.embedded = embedded
        self.startedEmbedded = started
        self.location = "embedded PostgreSQL in \(embedded.clusterDirectory.path) (port \(url.port))"
        do {
            try await embedded.requirePasswords(port: url.port)
            try await Self.createDatabaseIfMissing(url, logger: logger)
        } catch {
            if started { embedded.stop() }
            throw error
        }
    }

    /// Stops the embedded cluster if this process started it.
    public func release() {
        if startedEmbedded { embedded?.stop() }
    }

    /// Creates the application database inside a fresh embedded cluster.
    static func createDatabaseIfMissing(_ url: DatabaseURL, logger: Logger) async throws {
        let admin = url.with(database: "postgres")
        let connection = try await PostgresConnection.connect(
            configuration: .init(host: admin.host, port: admin.port, username: admin.username, password: admin.password, database: admin.database, tls: .disable),
            id: 1, logger: logger)
        defer { Task { try? await connection.close() } }
        let rows = try await connection.query("SELECT 1 FROM pg_database WHERE datname = \(url.database)", logger: logger)
        var exists = false
        for try await _ in rows { exists = true }
        if !exists {
            do {
                try await connection.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \"\(url.database)\""), logger: logger)
            } catch where PostgresErrorText.sqlState(error) == "42P04" {
                // Another instance created it at the same moment.
            }
        }
    }
}
