import Core
import Crypto
import Database
import Foundation
import PostgresNIO

/// Sign-in sessions and their rotating refresh tokens (GoTrue's legacy semantics, §2.12).
///
/// Refresh tokens are 128-bit HMACs of their row id under an instance secret, stored as
/// SHA-256 hashes. Each use revokes the
/// token and issues a child. Presenting the parent of the active token returns the active
/// token again (a client that lost a response); presenting an older revoked token within the
/// reuse interval is tolerated; anything else revokes the whole session.
struct SessionService: Sendable {
    let database: Database
    let tokens: TokenService
    let settings: AuthSettings
    /// Key deriving refresh tokens from their row ids.
    let refreshTokenKey: SymmetricKey

    /// Starts a session for a user who just proved possession of their phone.
    func signIn(userID: UUID, userAgent: String, clientAddress: String) async throws -> SessionJSON {
        let (user, sessionID, refreshToken, amrAt) = try await database.withOwner { connection in
            let user = try await UserRecord.returning(
                "UPDATE auth.users SET phone_confirmed_at = coalesce(phone_confirmed_at, now()), last_sign_in_at = now(), updated_at = now() WHERE id = $1",
                [userID], on: connection, database: database)
            if user.isBanned { throw AuthErrors.userBanned }
            let rows = try await connection.query("""
                INSERT INTO auth.sessions (user_id, user_agent, client_address) VALUES (\(userID), \(String(userAgent.prefix(512))), \(clientAddress))
                RETURNING id, extract(epoch FROM amr_at)::bigint
                """, logger: database.logger)
            var session: (UUID, Int64)?
            for try await row in rows.decode((UUID, Int64).self) { session = row }
            guard let (sessionID, amrAt) = session else { throw AuthErrors.sessionNotFound }
            let refreshToken = try await insertRefreshToken(sessionID: sessionID, userID: userID, parentID: nil, connection)
            return (user, sessionID, refreshToken, Int(amrAt))
        }
        return try await sessionJSON(user: user, sessionID: sessionID, refreshToken: refreshToken, amrAt: amrAt)
    }

    /// Exchanges a refresh token for a new session response.
    func refresh(_ presented: String) async throws -> SessionJSON {
        enum Outcome: Sendable {
            case issued(UserRecord, UUID, String, Int)
            case reused
        }
        let reuseInterval = settings.refreshTokenReuseIntervalSeconds
        let outcome: Outcome = try await database.withOwner { connection in
            let presentedHash = sha256Hex(presented)
            var sessionOfToken: UUID?
            for try await id in try await connection.rows("SELECT session_id FROM auth.refresh_tokens WHERE token_hash = $1", [presentedHash]).decode(UUID.self) {
                sessionOfToken = id
            }
            guard let sessionID = sessionOfToken else { throw AuthErrors.refreshNotFound }

            // Serialise concurrent refreshes of one session, then read the token's state
            // under that lock (a concurrent refresh may just have rotated it).
            let sessionRows = try await connection.query(
                "SELECT revoked_at IS NOT NULL, extract(epoch FROM amr_at)::bigint FROM auth.sessions WHERE id = \(sessionID) FOR UPDATE",
                logger: database.logger)
            var session: (Bool, Int64)?
            for try await row in sessionRows.decode((Bool, Int64).self) { session = row }
            guard let (sessionRevoked, amrAt) = session else { throw AuthErrors.refreshNotFound }
            if sessionRevoked { return .reused }

            let rows = try await connection.rows(
                "SELECT id, user_id, revoked, extract(epoch FROM now() - updated_at)::float8 FROM auth.refresh_tokens WHERE token_hash = $1",
                [presentedHash])
            var found: (Int64, UUID, Bool, Double)?
            for try await row in rows.decode((Int64, UUID, Bool, Double).self) { found = row }
            guard let (tokenID, userID, revoked, age) = found else { throw AuthErrors.refreshNotFound }

            guard let user = try await UserRecord.find(id: userID, on: connection, database: database) else {
                throw AuthErrors.refreshNotFound
            }
            if user.isBanned { throw AuthErrors.userBanned }

            if !revoked {
                try await revoke(tokenID, connection)
                let child = try await insertRefreshToken(sessionID: sessionID, userID: userID, parentID: tokenID, connection)
                try await touch(sessionID, connection)
                return .issued(user, sessionID, child, Int(amrAt))
            }
            // A revoked token: is it the parent of the active one (lost response)?
            let active = try await connection.query(
                "SELECT id, parent_id FROM auth.refresh_tokens WHERE session_id = \(sessionID) AND NOT revoked ORDER BY id DESC LIMIT 1",
                logger: database.logger)
            var activeToken: (Int64, Int64?)?
            for try await row in active.decode((Int64, Int64?).self) { activeToken = row }
            if let (activeID, parentID) = activeToken, parentID == tokenID {
                return .issued(user, sessionID, derivedToken(activeID), Int(amrAt))
            }
            if age < Double(reuseInterval) {
                try await connection.query(
                    "UPDATE auth.refresh_tokens SET revoked = true, updated_at = now() WHERE session_id = \(sessionID) AND NOT revoked",
                    logger: database.logger)
                let child = try await insertRefreshToken(sessionID: sessionID, userID: userID, parentID: tokenID, connection)
                try await touch(sessionID, connection)
                return .issued(user, sessionID, child, Int(amrAt))
            }
            // Reuse outside the grace window: the token family is compromised.
            try await connection.query(
                "UPDATE auth.refresh_tokens SET revoked = true, updated_at = now() WHERE session_id = \(sessionID)",
                logger: database.logger)
            try await connection.query("UPDATE auth.sessions SET revoked_at = now() WHERE id = \(sessionID)", logger: database.logger)
            return .reused
        }
        switch outcome {
        case .reused:
            throw AuthErrors.refreshAlreadyUsed
        case .issued(let user, let sessionID, let refreshToken, let amrAt):
            return try await sessionJSON(user: user, sessionID: sessionID, refreshToken: refreshToken, amrAt: amrAt)
        }
    }

    /// Ends sessions of the caller as `scope` says (`global`, `local`, `others`).
    func logout(userID: UUID, sessionID: UUID?, scope: String) async throws {
        try await database.withOwner { connection in
            switch scope {
            case "global":
                try await connection.query("DELETE FROM auth.sessions WHERE user_id = \(userID)", logger: database.logger)
            case "local":
                try await connection.query("DELETE FROM auth.sessions WHERE id = \(sessionID) AND user_id = \(userID)", logger: database.logger)
            case "others":
                try await connection.query(
                    "DELETE FROM auth.sessions WHERE user_id = \(userID) AND id IS DISTINCT FROM \(sessionID)", logger: database.logger)
            default:
                throw AuthErrors.validation("Parameter scope must be one of global, local, others")
            }
        }
    }

    /// Whether a session exists and is alive (not logged out, not revoked for reuse).
    func isActive(sessionID: UUID, userID: UUID) async throws -> Bool {
        try await database.withOwner { connection in
            let rows = try await connection.query(
                "SELECT 1 FROM auth.sessions WHERE id = \(sessionID) AND user_id = \(userID) AND revoked_at IS NULL", logger: database.logger)
            for try await _ in rows { return true }
            return false
        }
    }

    /// The user's live sessions, newest first (for the devices list).
    func list(userID: UUID, current: UUID?) async throws -> [DeviceSessionJSON] {
        try await database.withOwner { connection in
            let rows = try await connection.query("""
                SELECT id, user_agent, client_address, created_at, refreshed_at FROM auth.sessions
                WHERE user_id = \(userID) AND revoked_at IS NULL ORDER BY refreshed_at DESC, id LIMIT 200
                """, logger: database.logger)
            var sessions: [DeviceSessionJSON] = []
            for try await (id, agent, address, created, refreshed) in rows.decode((UUID, String, String, Date, Date).self) {
                sessions.append(DeviceSessionJSON(
                    id: id.uuidString.lowercased(), user_agent: agent, client_address: address,
                    created_at: created, last_active_at: refreshed, current: id == current))
            }
            return sessions
        }
    }

    /// Ends one of the user's sessions; false if it is not theirs or already gone.
    func revoke(sessionID: UUID, userID: UUID) async throws -> Bool {
        try await database.withOwner { connection in
            let rows = try await connection.query(
                "DELETE FROM auth.sessions WHERE id = \(sessionID) AND user_id = \(userID) RETURNING id", logger: database.logger)
            for try await _ in rows { return true }
            return false
        }
    }

    private func insertRefreshToken(sessionID: UUID, userID: UUID, parentID: Int64?, _ connection: PostgresConnection) async throws -> String {
        let ids = try await connection.query(
            "SELECT nextval(pg_get_serial_sequence('auth.refresh_tokens', 'id'))", logger: database.logger)
        var tokenID: Int64 = 0
        for try await id in ids.decode(Int64.self) { tokenID = id }
        let token = derivedToken(tokenID)
        try await connection.query("""
            INSERT INTO auth.refresh_tokens (id, token_hash, session_id, user_id, parent_id)
            VALUES (\(tokenID), \(sha256Hex(token)), \(sessionID), \(userID), \(parentID))
            """, logger: database.logger)
        return token
    }

    /// The refresh token of a row: 128 bits of HMAC-SHA256 over its id, hex encoded.
    private func derivedToken(_ tokenID: Int64) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Data("refresh-token:\(tokenID)".utf8), using: refreshTokenKey)
        return Data(mac).prefix(16).map { String(format: "%02x", $0) }.joined()
    }

    private func revoke(_ tokenID: Int64, _ connection: PostgresConnection) async throws {
        try await connection.query(
            "UPDATE auth.refresh_tokens SET revoked = true, updated_at = now() WHERE id = \(tokenID)", logger: database.logger)
    }

    private func touch(_ sessionID: UUID, _ connection: PostgresConnection) async throws {
        try await connection.query("UPDATE auth.sessions SET refreshed_at = now() WHERE id = \(sessionID)", logger: database.logger)
    }

    private func sessionJSON(user: UserRecord, sessionID: UUID, refreshToken: String, amrAt: Int) async throws -> SessionJSON {
        let (accessToken, expiresAt) = try await tokens.issueAccessToken(
            user: user, sessionID: sessionID, amr: .init(method: "otp", timestamp: amrAt))
        return SessionJSON(
            access_token: accessToken, token_type: "bearer",
            expires_in: expiresAt - Int(Date().timeIntervalSince1970), expires_at: expiresAt,
            refresh_token: refreshToken, user: user.json)
    }
}

/// GoTrue's session response.
struct SessionJSON: Encodable, Sendable {
    var access_token: String
    var token_type: String
    var expires_in: Int
    var expires_at: Int
    var refresh_token: String
    var user: UserJSON
}

/// One signed-in device, as `list_my_sessions` returns it.
struct DeviceSessionJSON: Encodable, Sendable {
    var id: String
    var user_agent: String
    var client_address: String
    var created_at: Date
    var last_active_at: Date
    var current: Bool
}
