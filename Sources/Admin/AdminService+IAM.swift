import Core
import Database
import Foundation
import PostgresNIO

/// Admins and their roles: reading (scope `iam.read`, under row-level security) and enabling
/// or disabling an admin (scope `iam.write`, audited, never the last active owner).
extension AdminService {
    /// The session's own view: who, until when, roles and scopes.
    public func me(_ session: AdminSession) throws -> Data {
        struct Me: Encodable {
            var user_id: String
            var expires_at: Date
            var roles: [AdminSession.Grant]
            var scopes: [String]
        }
        return try JSONBody.encoder.encode(
            Me(user_id: session.userID.uuidString.lowercased(), expires_at: session.expiresAt, roles: session.grants, scopes: session.scopes.map(\.rawValue).sorted()))
    }

    /// Every admin with status, enrolment and live grants, as JSON.
    public func admins(_ session: AdminSession) async throws -> Data {
        try await require(.iamRead, session, action: "admin.admins.list")
        return try await withAdmin(session) { connection in
            try await connection.jsonText(
                """
                SELECT coalesce(json_agg(json_build_object(
                    'user_id', a.user_id, 'status', a.status, 'totp_confirmed', a.totp_confirmed_at IS NOT NULL,
                    'created_at', a.created_at,
                    'roles', coalesce((SELECT json_agg(json_build_object('role', g.role, 'kind', g.kind, 'expires_at', g.expires_at)
                                                       ORDER BY g.role)
                                       FROM admin.role_grants g
                                       WHERE g.user_id = a.user_id AND g.revoked_at IS NULL AND (g.expires_at IS NULL OR g.expires_at > now())),
                                      '[]'::json))
                    ORDER BY a.created_at, a.user_id), '[]'::json)::text
                FROM admin.admin_users a
                """, []) ?? Data("[]".utf8)
        }
    }

    /// Sets an admin's status with a reason. Refuses to disable the last active owner; the
    /// database's trigger refuses it too, so two owners disabling each other cannot both win.
    public func setStatus(_ session: AdminSession, target: UUID, active: Bool, reason: String) async throws {
        let action = active ? "admin.admins.enable" : "admin.admins.disable"
        try await require(.iamWrite, session, action: action, target: target.uuidString.lowercased())
        let reason = try Self.reason(reason)
        let status = active ? "active" : "disabled"
        do {
            try await database.withOwner { connection in
                let updated = try await connection.exists(
                    "UPDATE admin.admin_users SET status = $2 WHERE user_id = $1 RETURNING 1", [target, status])
                guard updated else { throw APIError.notFound("user_id: no admin with this id") }
                if !active {
                    try await connection.execute("UPDATE admin.sessions SET ended_at = now() WHERE user_id = $1 AND ended_at IS NULL", [target])
                }
                try await AuditLog.append(
                    AuditEvent(actor: session.userID, action: action, scope: .iamWrite, target: target.uuidString.lowercased(),
                               outcome: .allowed, reason: reason, requestID: session.requestID), on: connection)
            }
        } catch let error where PostgresErrorText.sqlState(error) == "P0001" {
            try await AuditLog.record(
                AuditEvent(actor: session.userID, action: action, scope: .iamWrite, target: target.uuidString.lowercased(),
                           outcome: .denied, reason: "last active owner", requestID: session.requestID), database: database)
            throw AdminErrors.lastOwner
        }
    }

    /// The reason every change carries: 1–500 characters after trimming.
    static func reason(_ text: String) throws -> String {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw APIError.invalidField("reason", "is required: say why") }
        guard trimmed.count <= 500 else { throw APIError.invalidField("reason", "must be at most 500 characters") }
        return trimmed
    }
}
