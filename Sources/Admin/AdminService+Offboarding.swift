import Core
import Database
import Foundation
import PostgresNIO

/// Taking admin rights away and replacing a lost authenticator (scope `iam.write`, audited,
/// stopped by `admin_writes` and `iam_writes`). Both end the target's admin sessions.
extension AdminService {
    /// Removes an admin: every live grant revoked, the admin disabled and their second factor
    /// and recovery codes deleted, in one transaction. The row stays (the audit log, requests and
    /// warnings name it); enabling it again later means enrolling afresh. The last active owner
    /// is refused (409 `admin_last_owner`, by the database's triggers).
    public func removeAdmin(_ session: AdminSession, target: UUID, reason: String) async throws {
        try await offboard(session, target: target, reason: reason, action: "admin.admins.remove") { connection in
            try await connection.execute(
                "UPDATE admin.role_grants SET revoked_at = now(), revoked_by = $2 WHERE user_id = $1 AND revoked_at IS NULL",
                [target, session.userID])
            try await connection.execute("UPDATE admin.admin_users SET status = 'disabled' WHERE user_id = $1", [target])
        }
    }

    /// Deletes an admin's authenticator secret and recovery codes (for one who lost them): they
    /// sign in to the app and enrol again (`POST /enrol`), and nobody else ever sees the new secret.
    public func resetAuthenticator(_ session: AdminSession, target: UUID, reason: String) async throws {
        try await offboard(session, target: target, reason: reason, action: "admin.admins.reset_authenticator") { _ in }
    }

    /// The shared steps: scope, reason and switches checked; in one transaction the target's
    /// row locked (404 unless it exists), `change` made, the second factor cleared, the sessions
    /// ended and the audit row written.
    private func offboard(
        _ session: AdminSession, target: UUID, reason: String, action: String, _ change: @escaping @Sendable (PostgresConnection) async throws -> Void
    ) async throws {
        let targetText = target.uuidString.lowercased()
        try await require(.iamWrite, session, action: action, target: targetText)
        let reason = try Self.reason(reason)
        try await refuseIfSwitchedOff([.adminWrites, .iamWrites], session, action: action, target: targetText)
        do {
            try await withAdminWrite(session, .iamWrite) { connection in
                guard try await connection.exists("SELECT 1 FROM admin.admin_users WHERE user_id = $1 FOR UPDATE", [target]) else {
                    throw AdminErrors.targetNotAdmin
                }
                try await change(connection)
                try await connection.execute(
                    "UPDATE admin.admin_users SET totp_secret = NULL, totp_confirmed_at = NULL, totp_last_step = NULL WHERE user_id = $1", [target])
                try await connection.execute("DELETE FROM admin.recovery_codes WHERE user_id = $1", [target])
                try await connection.execute("UPDATE admin.sessions SET ended_at = now() WHERE user_id = $1 AND ended_at IS NULL", [target])
                try await AuditLog.append(
                    AuditEvent(actor: session.userID, action: action, scope: .iamWrite, target: targetText, outcome: .allowed, reason: reason,
                               requestID: session.requestID), on: connection)
            }
        } catch let error where PostgresErrorText.sqlState(error) == "P0001" {
            try await AuditLog.record(
                AuditEvent(actor: session.userID, action: action, scope: .iamWrite, target: targetText, outcome: .denied,
                           reason: "last active owner", requestID: session.requestID), database: database)
            throw AdminErrors.lastOwner
        }
    }
}
