import Database
import Foundation
import Logging
import PostgresNIO

/// What a database has recorded as applied, for `ecomansoni lint-migrations --applied`.
public enum AppliedMigrations {
    /// The folder of migrations bundled with the binary.
    public static var bundledFolder: String? { Migration.bundledDirectory?.path }

    /// Reads `(name, checksum)` of every applied migration from the database at `url`.
    public static func read(from url: String) async throws -> [(name: String, checksum: String)] {
        let parsed = try DatabaseURL(parsing: url)
        var logger = Logger(label: "lint-migrations")
        logger.logLevel = .error
        let connection = try await PostgresConnection.connect(
            configuration: .init(host: parsed.host, port: parsed.port, username: parsed.username, password: parsed.password, database: parsed.database, tls: .disable),
            id: 1, logger: logger)
        do {
            var records: [(name: String, checksum: String)] = []
            let rows = try await connection.query("SELECT name, checksum FROM ecomansoni_meta.schema_migrations ORDER BY name", logger: logger)
            for try await (name, checksum) in rows.decode((String, String).self) {
                records.append((name, checksum))
            }
            try await connection.close()
            return records
        } catch {
            try? await connection.close()
            throw error
        }
    }
}
