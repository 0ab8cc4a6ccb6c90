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
                    'roles', coalesce((SELECT json_agg(json_build_object('id', g.id, 'role', g.role, 'kind', g.kind, 'expires_at', g.expires_at)
                                                       ORDER BY g.role)
                                       FROM admin.role_grants g
                                       WHERE g.user_id = a.user_id AND g.revoked_at IS NULL AND (g.expires_at IS NULL OR g.expires_at > now())),
                                      '[]'::json))
                    ORDER BY a.created_at, a.user_id), '[]'::json)::text
                FROM admin.admin_users a
                """, []) ?? Data("[]".utf8)
        }
    }

    /// Sets an admin's status with a reason. Disabling the last active owner is refused by the
    /// database's trigger (409 here), so two owners disabling each other cannot both win.
    public func setStatus(_ session: AdminSession, target: UUID, active: Bool, reason: String) async throws {
        let action = active ? "admin.admins.enable" : "admin.admins.disable"
        try await require(.iamWrite, session, action: action, target: target.uuidString.lowercased())
        let reason = try Self.reason(reason)
        try await refuseIfSwitchedOff([.adminWrites, .iamWrites], session, action: action, target: target.uuidString.lowercased())
        let status = active ? "active" : "disabled"
        do {
            try await withAdminWrite(session, .iamWrite) { connection in
                let updated = try await connection.exists(
                    "UPDATE admin.admin_users SET status = $2 WHERE user_id = $1 RETURNING 1", [target, status])
                guard updated else { throw AdminErrors.targetNotAdmin }
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

    /// The reason every change carries: 1–500 characters after trimming, without U+0000.
    public static func reason(_ text: String) throws -> String {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw APIError.invalidField("reason", "is required: say why") }
        guard trimmed.unicodeScalars.count <= 500 else { throw APIError.invalidField("reason", "must be at most 500 characters") }
        guard !trimmed.unicodeScalars.contains("\u{0}") else { throw APIError.invalidField("reason", JSONBody.nulRule) }
        return trimmed
    }
}

/// New admins: an owner adds a platform user by id (scope `iam.write`, no roles yet); the new
/// admin then sets up their authenticator themselves (``enrol(_:)``), and the secret is shown
/// to nobody else.
extension AdminService {
    /// Makes the platform user `userID` an active admin without roles or second factor.
    public func addAdmin(_ session: AdminSession, userID: UUID, reason: String) async throws {
        let target = userID.uuidString.lowercased()
        try await require(.iamWrite, session, action: "admin.admins.add", target: target)
        let reason = try Self.reason(reason)
        try await refuseIfSwitchedOff([.adminWrites, .iamWrites], session, action: "admin.admins.add", target: target)
        do {
            try await withAdminWrite(session, .iamWrite) { connection in
                let added = try await connection.exists(
                    "INSERT INTO admin.admin_users (user_id, created_by) VALUES ($1, $2) ON CONFLICT (user_id) DO NOTHING RETURNING 1",
                    [userID, session.userID])
                guard added else { throw AdminErrors.alreadyAdmin }
                try await AuditLog.append(
                    AuditEvent(actor: session.userID, action: "admin.admins.add", scope: .iamWrite, target: target, outcome: .allowed,
                               reason: reason, requestID: session.requestID), on: connection)
            }
        } catch let error where PostgresErrorText.sqlState(error) == "23503" {
            throw AdminErrors.userNotFound
        }
    }

    /// Sets up the signed-in admin's authenticator: a new secret and recovery codes, shown once.
    /// Refused once a secret exists (bootstrap's, or an earlier enrolment's), so an access token
    /// alone can never replace someone's second factor.
    public func enrol(_ caller: Caller, requestID: String) async throws -> AdminEnrolment {
        let userID = try caller.requireUser()
        let enrolment = AdminEnrolment.generate(issuer: settings.totpIssuer, label: "admin-" + userID.uuidString.prefix(8).lowercased())
        let outcome = try await database.withOwner { connection -> APIError? in
            var enrolled: Bool?
            for try await value in try await connection.rows(
                "SELECT totp_secret IS NOT NULL FROM admin.admin_users WHERE user_id = $1 AND status = 'active' FOR UPDATE", [userID]
            ).decode(Bool.self) {
                enrolled = value
            }
            let refusal: (APIError, String)? =
                switch enrolled {
                case nil: (AdminErrors.notAnAdmin, "not an active admin")
                case true?: (AdminErrors.alreadyEnrolled, "authenticator already set up")
                case false?: nil
                }
            if let (error, why) = refusal {
                try await AuditLog.append(
                    AuditEvent(actor: userID, action: "admin.enrol", target: userID.uuidString.lowercased(), outcome: .denied, reason: why,
                               requestID: requestID), on: connection)
                return error
            }
            try await connection.execute(
                "UPDATE admin.admin_users SET totp_secret = $2, totp_last_step = NULL WHERE user_id = $1", [userID, Data(enrolment.secret)])
            try await Self.replaceRecoveryCodes(enrolment.recoveryCodes, of: userID, on: connection)
            try await AuditLog.append(
                AuditEvent(actor: userID, action: "admin.enrol", target: userID.uuidString.lowercased(), outcome: .allowed, requestID: requestID),
                on: connection)
            return nil
        }
        if let outcome { throw outcome }
        return enrolment
    }
}
