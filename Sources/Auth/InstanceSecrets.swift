import Core
import Crypto
import Database
import Foundation
import PostgresNIO

/// Secrets shared by every instance on one database, created once by whichever instance
/// starts first (`INSERT … ON CONFLICT DO NOTHING`, then read back what won).
struct InstanceSecrets: Sendable {
    var signingKeyPEM: String
    var keyID: String
    var otpHashKey: String
    var refreshTokenKey: String

    static func loadOrCreate(_ database: Database) async throws -> InstanceSecrets {
        let generated: [String: String] = [
            "es256_signing_key": P256.Signing.PrivateKey().pemRepresentation,
            "es256_key_id": "es256-" + randomHex(bytes: 6),
            "otp_hash_key": randomHex(bytes: 32),
            "refresh_token_key": randomHex(bytes: 32),
        ]
        let stored = try await database.withOwner { connection in
            try await insertMissing(generated, connection, database)
        }
        guard let pem = stored["es256_signing_key"], let kid = stored["es256_key_id"], let otpKey = stored["otp_hash_key"],
            let refreshKey = stored["refresh_token_key"]
        else {
            throw AuthConfigurationError("auth.instance_secrets is incomplete")
        }
        return InstanceSecrets(signingKeyPEM: pem, keyID: kid, otpHashKey: otpKey, refreshTokenKey: refreshKey)
    }

    /// Stores values not yet present and returns what the table holds for those names.
    static func insertMissing(_ values: [String: String], _ connection: PostgresConnection, _ database: Database) async throws -> [String: String] {
        for (name, value) in values.sorted(by: { $0.key < $1.key }) {
            try await connection.query(
                "INSERT INTO auth.instance_secrets (name, value) VALUES (\(name), \(value)) ON CONFLICT (name) DO NOTHING",
                logger: database.logger)
        }
        var stored: [String: String] = [:]
        let names = Array(values.keys)
        let rows = try await connection.query("SELECT name, value FROM auth.instance_secrets WHERE name = ANY(\(names))", logger: database.logger)
        for try await (name, value) in rows.decode((String, String).self) {
            stored[name] = value
        }
        return stored
    }
}

/// Lower-case hex of `bytes` random bytes.
func randomHex(bytes: Int) -> String {
    var generator = SystemRandomNumberGenerator()
    return (0..<bytes).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
}

/// SHA-256 of a string, hex encoded.
func sha256Hex(_ text: String) -> String {
    Hex.lowercase(SHA256.hash(data: Data(text.utf8)))
}
