import Foundation
import Logging
import PostgresNIO

/// Switching a cluster created with `trust` authentication (before passwords were used)
/// over to scram-sha-256 with the generated password.
extension EmbeddedPostgres {
    var hbaFile: URL { clusterDirectory.appendingPathComponent("pg_hba.conf") }

    /// Whether any rule of `pg_hba.conf` lets a client in without a password.
    func usesTrustAuthentication() -> Bool {
        guard let text = try? String(contentsOf: hbaFile, encoding: .utf8) else { return false }
        return text.split(separator: "\n").contains { Self.isTrustRule($0) }
    }

    /// Sets the superuser password, rewrites every `trust` rule to `scram-sha-256` and
    /// reloads the configuration. Does nothing for a cluster that already needs passwords.
    func requirePasswords(port: Int) async throws {
        guard usesTrustAuthentication(), let secret = try password.load() else { return }
        logger.notice("the embedded PostgreSQL accepted local connections without a password; switching it to scram-sha-256")
        let connection = try await PostgresConnection.connect(
            configuration: .init(host: "127.0.0.1", port: port, username: Self.superuser, password: nil, database: "postgres", tls: .disable),
            id: 1, logger: logger)
        do {
            // The password is hex digits (ClusterPassword), so it needs no escaping.
            try await connection.query("SET password_encryption = 'scram-sha-256'", logger: logger)
            try await connection.query(PostgresQuery(unsafeSQL: "ALTER ROLE \(Self.superuser) PASSWORD '\(secret)'"), logger: logger)
            let text = try String(contentsOf: hbaFile, encoding: .utf8)
            let rewritten = text.split(separator: "\n", omittingEmptySubsequences: false).map { line in
                Self.isTrustRule(line)
                    ? line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map { $0 == "trust" ? "scram-sha-256" : String($0) }.joined(separator: " ")
                    : String(line)
            }.joined(separator: "\n")
            // Written in place, so the file keeps its owner (the cluster's account) and mode.
            try rewritten.write(to: hbaFile, atomically: false, encoding: .utf8)
            try await connection.query("SELECT pg_reload_conf()", logger: logger)
            try await connection.close()
        } catch {
            try? await connection.close()
            // Not the error itself: it quotes the statement, password included.
            let reason = PostgresErrorText.message(error) ?? "\(type(of: error))"
            throw DatabaseError.clusterFailed("could not switch the embedded PostgreSQL to password authentication: \(reason)")
        }
    }

    static func isTrustRule(_ line: Substring) -> Bool {
        let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard let first = fields.first, !first.hasPrefix("#") else { return false }
        return fields.contains("trust")
    }
}
