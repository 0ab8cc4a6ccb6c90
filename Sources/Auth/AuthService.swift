import Core
import Crypto
import Database
import Foundation
import PostgresNIO

/// Phone sign-in as a whole: codes, sessions, tokens and the user record.
///
/// Built once at start-up by ``AuthService/load(database:settings:sender:)``; the HTTP layer
/// (``AuthController``) and the request authenticator use it.
public struct AuthService: Sendable {
    public let tokens: TokenService
    public let settings: AuthSettings
    let database: Database
    let otp: OTPService
    let sessions: SessionService

    /// Loads the shared keys (creating them on first start) and wires the parts.
    public static func load(
        database: Database, settings: AuthSettings, sender: any OTPSender, killSwitches: any KillSwitches = NoKillSwitches()
    ) async throws -> AuthService {
        let secrets = try await InstanceSecrets.loadOrCreate(database)
        let tokens = try await TokenService.load(database: database, settings: settings)
        return AuthService(
            tokens: tokens, settings: settings, database: database,
            otp: OTPService(database: database, settings: settings, sender: sender, hashKey: secrets.otpHashKey, killSwitches: killSwitches),
            sessions: SessionService(
                database: database, tokens: tokens, settings: settings,
                refreshTokenKey: SymmetricKey(data: Data(secrets.refreshTokenKey.utf8))))
    }

    /// The user and session behind a user access token, checked against the database:
    /// the session must still exist and the user must not be deleted.
    func currentUser(_ caller: Caller) async throws -> UserRecord {
        guard caller.role == .authenticated, let userID = caller.userID else { throw AuthErrors.noAuthorization }
        if let sessionID = caller.sessionID, try await !sessions.isActive(sessionID: sessionID, userID: userID) {
            throw AuthErrors.sessionNotFound
        }
        let user = try await database.withOwner { connection in
            try await UserRecord.find(id: userID, on: connection, database: database)
        }
        guard let user else { throw AuthErrors.userNotFound }
        return user
    }

    /// Applies `PUT /user`: merges `data` into user metadata (null deletes a key; the result
    /// must fit ``AuthSettings/userMetadataMaxBytes``) and starts a phone change when `phone`
    /// differs from the current number.
    ///
    /// A number that belongs to another user is treated exactly like a free one (a code is
    /// sent to it; confirming fails with `phone_exists`), so the answer does not reveal who
    /// has an account.
    func updateUser(_ caller: Caller, data: [String: JSONValue]?, phone: String?, clientAddress: String) async throws -> UserRecord {
        let user = try await currentUser(caller)
        var newPhone: String?
        if let phone {
            guard let normalised = PhoneNumber.normalise(phone) else { throw AuthErrors.invalidPhone }
            if normalised != user.phone { newPhone = normalised }
        }
        var metadata = user.userMetadata.objectValue ?? [:]
        for (key, value) in data ?? [:] {
            if value == .null { metadata[key] = nil } else { metadata[key] = value }
        }
        if data != nil {
            try UserMetadata.check(metadata, field: "data", maxBytes: settings.userMetadataMaxBytes)
        }
        return try await database.withOwner { [newPhone, metadata] connection in
            var updated = try await UserRecord.returning(
                "UPDATE auth.users SET user_metadata = $2::jsonb, updated_at = now() WHERE id = $1",
                [user.id, JSONValue.object(metadata).jsonText], on: connection, database: database)
            if let newPhone {
                updated = try await UserRecord.returning(
                    "UPDATE auth.users SET new_phone = $2 WHERE id = $1", [user.id, newPhone], on: connection, database: database)
                try await otp.requestPhoneChangeCode(userID: user.id, newPhone: newPhone, clientAddress: clientAddress, on: connection)
                updated.phoneChangeSentAt = Date()
            }
            return updated
        }
    }

    /// Confirms a phone change with the code sent to the new number.
    func confirmPhoneChange(phone: String, code: String, userAgent: String, clientAddress: String) async throws -> SessionJSON {
        let userID = try await otp.verify(phone: phone, code: code, purpose: .phoneChange)
        try await database.withOwner { connection in
            let changed: Bool
            do {
                changed = try await connection.exists(
                    "UPDATE auth.users SET phone = new_phone, new_phone = NULL, phone_confirmed_at = now(), updated_at = now() WHERE id = $1 AND new_phone = $2 RETURNING id",
                    [userID, phone])
            } catch where PostgresErrorText.sqlState(error) == "23505" {
                throw AuthErrors.phoneExists
            }
            // A code for a number the user has since replaced with another pending change.
            guard changed else { throw AuthErrors.otpExpired }
        }
        return try await sessions.signIn(userID: userID, userAgent: userAgent, clientAddress: clientAddress)
    }
}
