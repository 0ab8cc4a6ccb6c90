import Foundation
import Logging
import PostgresNIO

/// Applies migrations in order, each in its own transaction, recording name and checksum.
///
/// A session-level advisory lock makes concurrent starts safe: the second instance waits,
/// then finds everything applied. A migration whose file changed after it was applied
/// stops start-up.
public struct Migrator: Sendable {
    let migrations: [Migration]
    let logger: Logger
    /// Key of the advisory lock held while migrating.
    static let lockKey: Int64 = 0x45_434F_4D41_4E53  // "ECOMANS"

    public init(migrations: [Migration], logger: Logger) {
        self.migrations = migrations
        self.logger = logger
    }

    /// Applies what is pending; returns the names applied now.
    @discardableResult
    public func migrate(client: PostgresClient) async throws -> [String] {
        try await client.withConnection { connection in
            try await connection.query("SELECT pg_advisory_lock(\(Self.lockKey))", logger: logger)
            do {
                let applied = try await apply(on: connection)
                try await connection.query("SELECT pg_advisory_unlock(\(Self.lockKey))", logger: logger)
                return applied
            } catch {
                _ = try? await connection.query("SELECT pg_advisory_unlock(\(Self.lockKey))", logger: logger)
                throw error
            }
        }
    }

    /// Compares the bundled migrations with what the database recorded.
    public func pending(client: PostgresClient) async throws -> [Migration] {
        try await client.withConnection { connection in
            let recorded = try await recordedChecksums(on: connection)
            try verify(recorded)
            return migrations.filter { recorded[$0.name] == nil }
        }
    }

    private func apply(on connection: PostgresConnection) async throws -> [String] {
        try await connection.query("""
            CREATE SCHEMA IF NOT EXISTS ecomansoni_meta;
            """, logger: logger)
        try await connection.query("""
            CREATE TABLE IF NOT EXISTS ecomansoni_meta.schema_migrations (
                name text PRIMARY KEY,
                checksum text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """, logger: logger)
        try await connection.query("ALTER TABLE ecomansoni_meta.schema_migrations ENABLE ROW LEVEL SECURITY", logger: logger)
        // PostgresNIO speaks only the extended protocol (one statement per query), so a
        // migration file runs through PL/pgSQL's EXECUTE, which accepts several statements.
        try await connection.query("""
            CREATE OR REPLACE FUNCTION ecomansoni_meta.run_migration(sql text) RETURNS void
            LANGUAGE plpgsql AS $$ BEGIN EXECUTE sql; END $$
            """, logger: logger)
        try await connection.query("REVOKE ALL ON FUNCTION ecomansoni_meta.run_migration(text) FROM PUBLIC", logger: logger)
        let recorded = try await recordedChecksums(on: connection)
        try verify(recorded)
        var applied: [String] = []
        for migration in migrations where recorded[migration.name] == nil {
            logger.info("applying migration", metadata: ["name": "\(migration.name)"])
            do {
                try await connection.query("BEGIN", logger: logger)
                for try await _ in try await connection.query("SELECT ecomansoni_meta.run_migration(\(migration.sql))", logger: logger) {}
                try await connection.query(
                    "INSERT INTO ecomansoni_meta.schema_migrations (name, checksum) VALUES (\(migration.name), \(migration.checksum))",
                    logger: logger)
                try await connection.query("COMMIT", logger: logger)
            } catch {
                _ = try? await connection.query("ROLLBACK", logger: logger)
                throw DatabaseError.migrationFailed("migration \(migration.name) failed and was rolled back: \(PostgresErrorText.describe(error))")
            }
            applied.append(migration.name)
        }
        return applied
    }

    private func recordedChecksums(on connection: PostgresConnection) async throws -> [String: String] {
        let exists = try await connection.query(
            "SELECT to_regclass('ecomansoni_meta.schema_migrations') IS NOT NULL", logger: logger)
        var tableExists = false
        for try await value in exists.decode(Bool.self) { tableExists = value }
        guard tableExists else { return [:] }
        var recorded: [String: String] = [:]
        let rows = try await connection.query("SELECT name, checksum FROM ecomansoni_meta.schema_migrations", logger: logger)
        for try await (name, checksum) in rows.decode((String, String).self) {
            recorded[name] = checksum
        }
        return recorded
    }

    private func verify(_ recorded: [String: String]) throws {
        for migration in migrations {
            if let checksum = recorded[migration.name], checksum != migration.checksum {
                throw DatabaseError.migrationChanged("""
                    migration \(migration.name) was changed after it was applied \
                    (database has checksum \(checksum.prefix(12))…, this binary has \(migration.checksum.prefix(12))…). \
                    Restore the original file and put the change in a new migration.
                    """)
            }
        }
    }
}
