import Core
import Database
import Foundation
import PostgresNIO

/// What asking for a role gave: the grant at once, or a request waiting for approval.
public struct RoleRequestOutcome: Sendable, Encodable {
    public var status: String
    public var requestID: UUID?
    public var grantID: UUID?
    public var expiresAt: Date?

    enum CodingKeys: String, CodingKey {
        case status
        case requestID = "request_id"
        case grantID = "grant_id"
        case expiresAt = "expires_at"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(status, forKey: .status)
        try container.encode(requestID?.uuidString.lowercased(), forKey: .requestID)
        try container.encode(grantID?.uuidString.lowercased(), forKey: .grantID)
        try container.encode(expiresAt, forKey: .expiresAt)
    }
}

/// Roles: standing grants (scope `iam.write`) and just-in-time elevation for oneself (scope
/// `jit.request`, 1–240 minutes). Operations in `admin.approval_policies` become requests that
/// other admins holding the policy's role approve (scope `approvals.decide`); the requester then
/// executes the approved request, which consumes it in the transaction that makes the grant.
extension AdminService {
    public static let requestLifetime: TimeInterval = 24 * 3600
    public static let jitMinutes = 1...240

    /// Asks for `role` for `target`: standing when `minutes` is nil, just-in-time (the caller
    /// themselves only) for that many minutes.
    public func requestRole(_ session: AdminSession, target: UUID, role: AdminRole, minutes: Int?, reason: String) async throws -> RoleRequestOutcome {
        let jit = minutes != nil
        let action = jit ? "admin.jit.request" : "admin.role.request"
        let targetText = target.uuidString.lowercased()
        try await require(jit ? .jitRequest : .iamWrite, session, action: action, target: targetText)
        let reason = try Self.reason(reason)
        if let minutes, !Self.jitMinutes.contains(minutes) {
            throw APIError.invalidField("minutes", "must be an integer from 1 to 240")
        }
        if jit, target != session.userID {
            throw APIError.invalidField("user_id", "just-in-time elevation is for oneself only")
        }
        try await refuseIfSwitchedOff(jit ? [.adminWrites] : [.adminWrites, .iamWrites], session, action: action, target: targetText)
        let operation = (jit ? "jit:" : "grant_role:") + role.rawValue
        let at = now()
        return try await withAdminWrite(session, jit ? .jitRequest : .iamWrite) { connection in
            guard try await connection.exists("SELECT 1 FROM admin.admin_users WHERE user_id = $1 AND status = 'active'", [target]) else {
                throw AdminErrors.targetNotAdmin
            }
            if try await Self.holdsLive(role, target, at: at, on: connection) { throw AdminErrors.roleHeld }
            let needsApproval = try await connection.exists("SELECT 1 FROM admin.approval_policies WHERE operation = $1", [operation])
            var event = AuditEvent(
                actor: session.userID, action: action, scope: jit ? .jitRequest : .iamWrite, target: targetText, outcome: .allowed,
                reason: reason, requestID: session.requestID, detail: ["role": .string(role.rawValue)])
            if let minutes { event.detail["minutes"] = .number(Double(minutes)) }
            guard needsApproval else {
                let grant = try await Self.grant(role, to: target, minutes: minutes, reason: reason, by: session.userID, at: at, on: connection)
                event.action = jit ? "admin.jit.grant" : "admin.role.grant"
                event.detail["grant_id"] = .string(grant.id.uuidString.lowercased())
                try await AuditLog.append(event, on: connection)
                return RoleRequestOutcome(status: "granted", grantID: grant.id, expiresAt: grant.expiresAt)
            }
            var requestID = UUID()
            for try await id in try await connection.rows(
                """
                INSERT INTO admin.requests (operation, requester, target_user, role, minutes, reason, created_at, expires_at)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id
                """, [operation, session.userID, target, role.rawValue, minutes, reason, at, at.addingTimeInterval(Self.requestLifetime)]
            ).decode(UUID.self) {
                requestID = id
            }
            event.detail["request_id"] = .string(requestID.uuidString.lowercased())
            try await AuditLog.append(event, on: connection)
            return RoleRequestOutcome(status: "pending", requestID: requestID, expiresAt: at.addingTimeInterval(Self.requestLifetime))
        }
    }

    /// Records `session`'s decision on a pending request. Any denial denies; enough approvals
    /// (the policy's count, from admins holding its role) approve.
    public func decide(_ session: AdminSession, requestID: UUID, approve: Bool, reason: String) async throws -> String {
        let action = approve ? "admin.request.approve" : "admin.request.deny"
        let targetText = requestID.uuidString.lowercased()
        try await require(.approvalsDecide, session, action: action, target: targetText)
        let reason = try Self.reason(reason)
        try await refuseIfSwitchedOff([.adminWrites], session, action: action, target: targetText)
        let at = now()
        let outcome = try await withAdminWrite(session, .approvalsDecide) { connection -> Result<String, APIError> in
            var found: (requester: UUID, target: UUID, status: String, expiresAt: Date, approverRole: String, needed: Int)?
            for try await row in try await connection.rows(
                """
                SELECT r.requester, r.target_user, r.status, r.expires_at, p.approver_role, p.approvals_needed
                FROM admin.requests r JOIN admin.approval_policies p ON p.operation = r.operation
                WHERE r.id = $1 FOR UPDATE OF r
                """, [requestID]
            ).decode((UUID, UUID, String, Date, String, Int).self) {
                found = (row.0, row.1, row.2, row.3, row.4, row.5)
            }
            guard let request = found else { return .failure(AdminErrors.requestNotFound) }
            var refusal: (APIError, String)?
            if request.requester == session.userID || request.target == session.userID {
                refusal = (AdminErrors.selfApproval, "self-approval")
            } else if request.status != "pending" {
                refusal = (AdminErrors.requestClosed, "request \(request.status)")
            } else if request.expiresAt <= at {
                refusal = (AdminErrors.requestExpired, "request expired")
            } else if !(try await Self.holdsLive(AdminRole(rawValue: request.approverRole) ?? .owner, session.userID, at: at, on: connection)) {
                refusal = (AdminErrors.approverRole(request.approverRole), "approver lacks role \(request.approverRole)")
            } else if try await connection.exists(
                "SELECT 1 FROM admin.approvals WHERE request_id = $1 AND approver = $2", [requestID, session.userID])
            {
                refusal = (AdminErrors.alreadyDecided, "decided already")
            }
            if let (error, why) = refusal {
                try await AuditLog.append(
                    AuditEvent(actor: session.userID, action: action, scope: .approvalsDecide, target: targetText, outcome: .denied,
                               reason: why, requestID: session.requestID), on: connection)
                return .failure(error)
            }
            try await connection.execute(
                "INSERT INTO admin.approvals (request_id, approver, decision, reason, decided_at) VALUES ($1, $2, $3, $4, $5)",
                [requestID, session.userID, approve ? "approve" : "deny", reason, at])
            var status = "pending"
            if !approve {
                status = "denied"
            } else if try await connection.count(
                "SELECT count(*) FROM admin.approvals WHERE request_id = $1 AND decision = 'approve'", [requestID]) >= request.needed
            {
                status = "approved"
            }
            if status != "pending" {
                try await connection.execute("UPDATE admin.requests SET status = $2 WHERE id = $1", [requestID, status])
            }
            try await AuditLog.append(
                AuditEvent(actor: session.userID, action: action, scope: .approvalsDecide, target: targetText, outcome: .allowed,
                           reason: reason, requestID: session.requestID, detail: ["status": .string(status)]), on: connection)
            return .success(status)
        }
        return try outcome.get()
    }

    /// Executes an approved request: consumes it and makes its grant in one transaction, so of
    /// two concurrent executions exactly one succeeds and a consumed request cannot be replayed.
    public func execute(_ session: AdminSession, requestID: UUID) async throws -> RoleRequestOutcome {
        let targetText = requestID.uuidString.lowercased()
        let isJIT = try await database.withOwner { connection -> Bool? in
            for try await jit in try await connection.rows("SELECT minutes IS NOT NULL FROM admin.requests WHERE id = $1", [requestID]).decode(Bool.self) {
                return jit
            }
            return nil
        }
        guard let isJIT else { throw AdminErrors.requestNotFound }
        let scope: AdminScope = isJIT ? .jitRequest : .iamWrite
        try await require(scope, session, action: "admin.request.execute", target: targetText)
        try await refuseIfSwitchedOff(isJIT ? [.adminWrites] : [.adminWrites, .iamWrites], session, action: "admin.request.execute", target: targetText)
        let at = now()
        let outcome = try await withAdminWrite(session, scope) { connection -> Result<RoleRequestOutcome, APIError> in
            var consumed: (target: UUID, role: String, minutes: Int?, reason: String)?
            for try await row in try await connection.rows(
                """
                UPDATE admin.requests SET status = 'consumed', consumed_at = $3
                WHERE id = $1 AND requester = $2 AND status = 'approved' AND expires_at > $3
                RETURNING target_user, role, minutes, reason
                """, [requestID, session.userID, at]
            ).decode((UUID, String, Int?, String).self) {
                consumed = (row.0, row.1, row.2, row.3)
            }
            guard let consumed, let role = AdminRole(rawValue: consumed.role) else {
                // (Nothing was consumed: the UPDATE matched no row.)
                let error = try await Self.whyNotExecutable(requestID, session.userID, at: at, on: connection)
                try await AuditLog.append(
                    AuditEvent(actor: session.userID, action: "admin.request.execute", scope: scope, target: targetText, outcome: .denied,
                               reason: error.code, requestID: session.requestID), on: connection)
                return .failure(error)
            }
            // What held when the request was made may not hold now: thrown, so the transaction
            // is rolled back and the request stays approved.
            guard try await connection.exists("SELECT 1 FROM admin.admin_users WHERE user_id = $1 AND status = 'active'", [consumed.target])
            else { throw AdminErrors.targetNotAdmin }
            if try await Self.holdsLive(role, consumed.target, at: at, on: connection) { throw AdminErrors.roleHeld }
            let grant = try await Self.grant(
                role, to: consumed.target, minutes: consumed.minutes, reason: consumed.reason, by: session.userID, at: at, on: connection)
            try await connection.execute("UPDATE admin.requests SET grant_id = $2 WHERE id = $1", [requestID, grant.id])
            try await AuditLog.append(
                AuditEvent(actor: session.userID, action: "admin.request.execute", scope: scope, target: targetText, outcome: .allowed,
                           reason: consumed.reason, requestID: session.requestID,
                           detail: ["role": .string(role.rawValue), "grant_id": .string(grant.id.uuidString.lowercased()),
                                    "user_id": .string(consumed.target.uuidString.lowercased())]), on: connection)
            return .success(RoleRequestOutcome(status: "granted", requestID: requestID, grantID: grant.id, expiresAt: grant.expiresAt))
        }
        return try outcome.get()
    }

    /// Why `requestID` cannot be executed by `requester` now.
    static func whyNotExecutable(_ requestID: UUID, _ requester: UUID, at: Date, on connection: PostgresConnection) async throws -> APIError {
        for try await (owner, status, expiresAt) in try await connection.rows(
            "SELECT requester, status, expires_at FROM admin.requests WHERE id = $1", [requestID]
        ).decode((UUID, String, Date).self) {
            if owner != requester { return AdminErrors.notRequester }
            if status == "consumed" { return AdminErrors.requestConsumed }
            if status != "approved" { return AdminErrors.requestNotApproved }
            if expiresAt <= at { return AdminErrors.requestExpired }
            return AdminErrors.requestNotApproved
        }
        return AdminErrors.requestNotFound
    }

    /// Ends a live grant early: one's own just-in-time grant, or any grant with `iam.write`.
    /// The last active owner's standing grant stays (database trigger).
    public func revokeGrant(_ session: AdminSession, grantID: UUID, reason: String) async throws {
        let targetText = grantID.uuidString.lowercased()
        let reason = try Self.reason(reason)
        let at = now()
        let holder = try await database.withOwner { connection -> (user: UUID, kind: String)? in
            for try await row in try await connection.rows(
                "SELECT user_id, kind FROM admin.role_grants WHERE id = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2)",
                [grantID, at]
            ).decode((UUID, String).self) {
                return (row.0, row.1)
            }
            return nil
        }
        guard let holder else { throw AdminErrors.grantNotFound }
        let ownJIT = holder.user == session.userID && holder.kind == "jit"
        if !ownJIT { try await require(.iamWrite, session, action: "admin.grant.revoke", target: targetText) }
        try await refuseIfSwitchedOff(ownJIT ? [] : [.adminWrites, .iamWrites], session, action: "admin.grant.revoke", target: targetText)
        @Sendable func revoke(_ connection: PostgresConnection) async throws {
            try await connection.execute(
                "UPDATE admin.role_grants SET revoked_at = $2, revoked_by = $3 WHERE id = $1 AND revoked_at IS NULL", [grantID, at, session.userID])
            try await AuditLog.append(
                AuditEvent(actor: session.userID, action: "admin.grant.revoke", scope: ownJIT ? nil : .iamWrite, target: targetText,
                           outcome: .allowed, reason: reason, requestID: session.requestID), on: connection)
        }
        do {
            if ownJIT {
                try await database.withOwner(revoke)
            } else {
                try await withAdminWrite(session, .iamWrite, revoke)
            }
        } catch let error where PostgresErrorText.sqlState(error) == "P0001" {
            try await AuditLog.record(
                AuditEvent(actor: session.userID, action: "admin.grant.revoke", scope: .iamWrite, target: targetText, outcome: .denied,
                           reason: "last active owner", requestID: session.requestID), database: database)
            throw AdminErrors.lastOwner
        }
    }

    /// Requests the session may see (under row-level security), newest first, with decisions.
    public func requests(_ session: AdminSession) async throws -> Data {
        try await withAdmin(session) { connection in
            try await connection.jsonText(
                """
                SELECT coalesce(json_agg(json_build_object(
                    'id', r.id, 'operation', r.operation, 'requester', r.requester, 'user_id', r.target_user, 'role', r.role,
                    'minutes', r.minutes, 'reason', r.reason, 'created_at', r.created_at, 'expires_at', r.expires_at,
                    'status', CASE WHEN r.status IN ('pending', 'approved') AND r.expires_at <= now() THEN 'expired' ELSE r.status END,
                    'consumed_at', r.consumed_at, 'grant_id', r.grant_id,
                    'approver_role', p.approver_role, 'approvals_needed', p.approvals_needed,
                    'decisions', coalesce((SELECT json_agg(json_build_object('approver', a.approver, 'decision', a.decision,
                                                                            'reason', a.reason, 'decided_at', a.decided_at) ORDER BY a.decided_at)
                                           FROM admin.approvals a WHERE a.request_id = r.id), '[]'::json))
                    ORDER BY r.created_at DESC), '[]'::json)::text
                FROM (SELECT * FROM admin.requests ORDER BY created_at DESC LIMIT 200) r
                JOIN admin.approval_policies p ON p.operation = r.operation
                """, []) ?? Data("[]".utf8)
        }
    }

    /// Whether `user` holds `role` through a live grant at `at`.
    static func holdsLive(_ role: AdminRole, _ user: UUID, at: Date, on connection: PostgresConnection) async throws -> Bool {
        try await connection.exists(
            """
            SELECT 1 FROM admin.role_grants g JOIN admin.admin_users a ON a.user_id = g.user_id
            WHERE g.user_id = $1 AND g.role = $2 AND a.status = 'active' AND g.revoked_at IS NULL AND (g.expires_at IS NULL OR g.expires_at > $3)
            """, [user, role.rawValue, at])
    }

    /// Inserts a grant: standing without `minutes`, just-in-time ending `minutes` after `at`.
    static func grant(
        _ role: AdminRole, to user: UUID, minutes: Int?, reason: String, by grantor: UUID, at: Date, on connection: PostgresConnection
    ) async throws -> (id: UUID, expiresAt: Date?) {
        let expiresAt = minutes.map { at.addingTimeInterval(TimeInterval($0 * 60)) }
        for try await id in try await connection.rows(
            """
            INSERT INTO admin.role_grants (user_id, role, kind, reason, granted_by, granted_at, expires_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id
            """, [user, role.rawValue, minutes == nil ? "standing" : "jit", reason, grantor, at, expiresAt]
        ).decode(UUID.self) {
            return (id, expiresAt)
        }
        throw AdminErrors.grantNotFound
    }
}
