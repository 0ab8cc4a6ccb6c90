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
    /// Row ids for new refresh tokens, reserved ahead so each request is one statement.
    let tokenIDs: RefreshTokenIDs

    init(database: Database, tokens: TokenService, settings: AuthSettings, refreshTokenKey: SymmetricKey) {
        self.database = database
        self.tokens = tokens
        self.settings = settings
        self.refreshTokenKey = refreshTokenKey
        self.tokenIDs = RefreshTokenIDs(database: database)
    }

    /// The outputs every session function returns after `outcome`: the user, the session
    /// and its authentication time (`auth.start_session`, migration 0009).
    private static let sessionColumns = "r.outcome, \(UserRecord.columns(of: "(r.account)")), r.signed_in_session, r.amr_at"

    /// Starts a session for a user who just proved possession of their phone.
    func signIn(userID: UUID, userAgent: String, clientAddress: String) async throws -> SessionJSON {
        let token = try await newRefreshToken()
        let query: PostgresQuery = """
            SELECT \(unescaped: Self.sessionColumns)
            FROM auth.start_session(\(userID), \(String(userAgent.prefix(512))), \(clientAddress), \(token.id), \(token.hash)) r
            """
        return try await startedSession(query, refreshToken: token.value)
    }

    /// `POST /verify` with a sign-in code: checks and consumes the code and starts a session,
    /// in one statement (`auth.sign_in_with_code`). A refused code answers `otp_expired`.
    func signIn(with code: OTPService.PresentedCode, userAgent: String, clientAddress: String) async throws -> SessionJSON {
        let token = try await newRefreshToken()
        let query: PostgresQuery = """
            SELECT \(unescaped: Self.sessionColumns)
            FROM auth.sign_in_with_code(\(code.phone), \(code.hash), \(code.fixedCodeMatched), \(code.maxAttempts)::integer,
                \(String(userAgent.prefix(512))), \(clientAddress), \(token.id), \(token.hash)) r
            """
        return try await startedSession(query, refreshToken: token.value)
    }

    /// A session for a user deleted meanwhile.
    private static let userMissing = APIError(status: .forbidden, code: "user_not_found", message: "User not found")

    /// Runs a statement returning ``sessionColumns`` and answers with the session.
    private func startedSession(_ query: PostgresQuery, refreshToken: String) async throws -> SessionJSON {
        let (user, sessionID, amrAt) = try await database.withStatement { connection in
            let rows = try await connection.query(query, logger: database.logger)
            var started: (UserRecord, UUID, Int64)?
            var outcome = ""
            for try await row in rows {
                let cells = row.makeRandomAccess()
                outcome = try cells[0].decode(String.self)
                if outcome == "ok" {
                    started = (try UserRecord(cells, from: 1), try cells[14].decode(UUID.self), try cells[15].decode(Int64.self))
                }
            }
            switch outcome {
            case "ok": break
            case "invalid": throw AuthErrors.otpExpired
            case "banned": throw AuthErrors.userBanned
            default: throw Self.userMissing
            }
            guard let started else { throw Self.userMissing }
            return started
        }
        return try await sessionJSON(user: user, sessionID: sessionID, refreshToken: refreshToken, amrAt: Int(amrAt))
    }

    /// Exchanges a refresh token for a new session response, in one statement
    /// (`auth.refresh_session`, migration 0009, which applies the reuse rules).
    func refresh(_ presented: String) async throws -> SessionJSON {
        let child = try await newRefreshToken()
        let query: PostgresQuery = """
            SELECT \(unescaped: Self.sessionColumns), r.token
            FROM auth.refresh_session(\(sha256Hex(presented)), \(settings.refreshTokenReuseIntervalSeconds)::integer, \(child.id), \(child.hash)) r
            """
        let (user, sessionID, amrAt, tokenID) = try await database.withStatement { connection in
            let rows = try await connection.query(query, logger: database.logger)
            var issued: (UserRecord, UUID, Int64, Int64)?
            var outcome = ""
            for try await row in rows {
                let cells = row.makeRandomAccess()
                outcome = try cells[0].decode(String.self)
                if outcome == "issued" || outcome == "active" {
                    issued = (
                        try UserRecord(cells, from: 1), try cells[14].decode(UUID.self), try cells[15].decode(Int64.self),
                        try cells[16].decode(Int64.self)
                    )
                }
            }
            switch outcome {
            case "issued", "active": break
            case "reused": throw AuthErrors.refreshAlreadyUsed
            case "banned": throw AuthErrors.userBanned
            default: throw AuthErrors.refreshNotFound
            }
            guard let issued else { throw AuthErrors.refreshNotFound }
            return issued
        }
        // The new child, or the active token handed back to a client that lost the response.
        let refreshToken = tokenID == child.id ? child.value : derivedToken(tokenID)
        return try await sessionJSON(user: user, sessionID: sessionID, refreshToken: refreshToken, amrAt: Int(amrAt))
    }

    /// Ends sessions of the caller as `scope` says (`global`, `local`, `others`).
    func logout(userID: UUID, sessionID: UUID?, scope: String) async throws {
        _ = try await database.withOwner { connection in
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

    /// A new refresh token: its reserved row id, the token and the SHA-256 stored for it.
    private func newRefreshToken() async throws -> (id: Int64, value: String, hash: String) {
        let id = try await tokenIDs.next()
        let value = derivedToken(id)
        return (id, value, sha256Hex(value))
    }

    /// The refresh token of a row: 128 bits of HMAC-SHA256 over its id, hex encoded.
    private func derivedToken(_ tokenID: Int64) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Data("refresh-token:\(tokenID)".utf8), using: refreshTokenKey)
        return Hex.lowercase(Data(mac).prefix(16))
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
