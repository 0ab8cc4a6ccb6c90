import Core
import Crypto
import Database
import Foundation
import Logging
import PostgresNIO

/// The admin console's rules: who is an admin, opening sessions with a second factor, scope
/// checks, and the audit record of every action and denial. Admin work runs as the signed-in
/// user under row-level security with the admin session named (``withAdmin(_:_:)``); writes
/// run as the owner after the service's own checks, in the same transaction as their audit row.
public struct AdminService: Sendable {
    let database: Database
    public let settings: AdminSettings
    /// The clock codes and sessions are checked against (tests move it).
    let now: @Sendable () -> Date
    /// The kill switches as this instance knows them (`admin_writes`, `iam_writes` apply here).
    let killSwitches: any KillSwitches
    /// The reels review seam (nil where reels are not served).
    let reelReview: (any ReelReview)?
    /// The accounts seam (support's lookup, suspensions).
    let accounts: (any AccountDirectory)?
    /// The reported messages and profiles seam.
    let reportedContent: (any ReportedContent)?

    /// Wrong codes allowed per admin in ``attemptWindowMinutes`` before opening is refused.
    static let maximumFailedAttempts = 5
    static let attemptWindowMinutes = 15
    /// The audit reasons that count as wrong codes toward the lock.
    static let wrongCodeReasons = ["wrong authenticator code", "wrong recovery code", "authenticator code already used"]

    public init(
        database: Database, settings: AdminSettings, killSwitches: any KillSwitches = NoKillSwitches(), reelReview: (any ReelReview)? = nil,
        accounts: (any AccountDirectory)? = nil, reportedContent: (any ReportedContent)? = nil, now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.accounts = accounts
        self.reportedContent = reportedContent
        self.database = database
        self.settings = settings
        self.killSwitches = killSwitches
        self.reelReview = reelReview
        self.now = now
    }

    // MARK: Bootstrap

    /// Whether an active admin holds a live owner grant (bootstrap is refused then).
    public func ownerExists() async throws -> Bool {
        try await database.withOwner { connection in try await Self.ownerExists(on: connection) }
    }

    /// Records a bootstrap refused before any account was looked up.
    public func recordRefusedBootstrap() async throws {
        try await AuditLog.record(
            AuditEvent(actor: nil, action: "admin.bootstrap", outcome: .denied, reason: "an owner already exists", detail: ["via": .string("cli")]),
            database: database)
    }

    static func ownerExists(on connection: PostgresConnection) async throws -> Bool {
        try await connection.exists(
            """
            SELECT 1 FROM admin.role_grants g JOIN admin.admin_users a ON a.user_id = g.user_id
            WHERE g.role = 'owner' AND g.revoked_at IS NULL AND (g.expires_at IS NULL OR g.expires_at > now()) AND a.status = 'active'
            """, [])
    }

    /// Makes `userID` the installation's first owner, with a new second factor shown once.
    /// Refused (and audited) once an active owner exists.
    public func bootstrap(userID: UUID, label: String) async throws -> AdminEnrolment {
        let enrolment = AdminEnrolment.generate(issuer: settings.totpIssuer, label: label)
        let made = try await database.withOwner { connection -> Bool in
            try await connection.execute("SELECT pg_advisory_xact_lock(hashtext('admin.owners'))", [])
            if try await Self.ownerExists(on: connection) {
                try await AuditLog.append(
                    AuditEvent(actor: nil, action: "admin.bootstrap", target: userID.uuidString.lowercased(), outcome: .denied,
                               reason: "an owner already exists", detail: ["via": .string("cli")]), on: connection)
                return false
            }
            try await connection.execute(
                """
                INSERT INTO admin.admin_users (user_id, totp_secret) VALUES ($1, $2)
                ON CONFLICT (user_id) DO UPDATE SET status = 'active', totp_secret = EXCLUDED.totp_secret,
                    totp_confirmed_at = NULL, totp_last_step = NULL
                """, [userID, Data(enrolment.secret)])
            try await Self.replaceRecoveryCodes(enrolment.recoveryCodes, of: userID, on: connection)
            try await connection.execute(
                "INSERT INTO admin.role_grants (user_id, role, kind, reason) VALUES ($1, 'owner', 'bootstrap', 'first owner of this installation')",
                [userID])
            try await AuditLog.append(
                AuditEvent(actor: nil, action: "admin.bootstrap", scope: nil, target: userID.uuidString.lowercased(), outcome: .allowed,
                           reason: "first owner of this installation", detail: ["via": .string("cli")]), on: connection)
            return true
        }
        guard made else { throw AdminErrors.ownerExists }
        return enrolment
    }

    static func replaceRecoveryCodes(_ codes: [String], of userID: UUID, on connection: PostgresConnection) async throws {
        try await connection.execute("DELETE FROM admin.recovery_codes WHERE user_id = $1", [userID])
        for code in codes {
            guard let hash = RecoveryCode.hash(code) else { continue }
            try await connection.execute("INSERT INTO admin.recovery_codes (user_id, code_hash) VALUES ($1, $2)", [userID, Data(hash)])
        }
    }

    // MARK: Sessions

    /// What a code check decided; denials are committed with their audit row before throwing.
    enum Opening: Sendable {
        case opened(OpenedAdminSession)
        case denied(APIError, reason: String)
    }

    /// Opens an admin session for the signed-in `caller` with a fresh TOTP code (each code
    /// works once) or an unused recovery code. Every attempt is audited.
    public func openSession(_ caller: Caller, code: String, requestID: String) async throws -> OpenedAdminSession {
        let userID = try caller.requireUser()
        let at = now()
        let token = Self.newToken()
        let outcome = try await database.withOwner { connection -> Opening in
            let opening = try await open(userID: userID, caller: caller, code: code, token: token, at: at, on: connection)
            var event = AuditEvent(
                actor: userID, action: "admin.session.open", target: userID.uuidString.lowercased(), outcome: .allowed, requestID: requestID)
            if case .denied(_, let reason) = opening {
                event.outcome = .denied
                event.reason = reason
            }
            try await AuditLog.append(event, on: connection)
            return opening
        }
        switch outcome {
        case .opened(let session): return session
        case .denied(let error, _): throw error
        }
    }

    private func open(userID: UUID, caller: Caller, code: String, token: String, at: Date, on connection: PostgresConnection) async throws -> Opening {
        var admin: (status: String, secret: Data?, lastStep: Int64?)?
        for try await row in try await connection.rows(
            "SELECT status, totp_secret, totp_last_step FROM admin.admin_users WHERE user_id = $1 FOR UPDATE", [userID]
        ).decode((String, Data?, Int64?).self) {
            admin = (row.0, row.1, row.2)
        }
        guard let admin, admin.status == "active" else { return .denied(AdminErrors.notAnAdmin, reason: "not an active admin") }
        guard let secret = admin.secret else { return .denied(AdminErrors.notEnrolled, reason: "authenticator not set up") }
        var failures = 0
        var oldest: Date?
        for try await (count, first) in try await connection.rows(
            """
            SELECT count(*), min(at) FROM admin.audit_log
            WHERE actor = $1 AND action = 'admin.session.open' AND outcome = 'denied' AND reason = ANY($4)
              AND at > $2::timestamptz - make_interval(mins => $3::int)
            """, [userID, at, Self.attemptWindowMinutes, Self.wrongCodeReasons]
        ).decode((Int, Date?).self) {
            failures = count
            oldest = first
        }
        if failures >= Self.maximumFailedAttempts {
            // Refusals while locked are not counted: the lock ends a window after the oldest failure.
            let unlocks = (oldest ?? at).addingTimeInterval(TimeInterval(Self.attemptWindowMinutes * 60))
            let wait = max(1, Int(unlocks.timeIntervalSince(at).rounded(.up)))
            return .denied(AdminErrors.tooManyAttempts(retryAfter: min(wait, Self.attemptWindowMinutes * 60)), reason: "too many wrong codes")
        }
        let trimmed = code.trimmingCharacters(in: .whitespaces)
        if let step = TOTP.matchingStep(trimmed, secret: [UInt8](secret), at: at) {
            if let last = admin.lastStep, step <= last {
                return .denied(AdminErrors.wrongCode, reason: Self.wrongCodeReasons[2])
            }
            try await connection.execute(
                "UPDATE admin.admin_users SET totp_last_step = $2, totp_confirmed_at = coalesce(totp_confirmed_at, now()) WHERE user_id = $1",
                [userID, step])
        } else if let hash = RecoveryCode.hash(trimmed) {
            let spent = try await connection.exists(
                "UPDATE admin.recovery_codes SET used_at = now() WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL RETURNING 1",
                [userID, Data(hash)])
            guard spent else { return .denied(AdminErrors.wrongCode, reason: Self.wrongCodeReasons[1]) }
        } else {
            return .denied(AdminErrors.wrongCode, reason: Self.wrongCodeReasons[0])
        }
        let expiresAt = at.addingTimeInterval(TimeInterval(settings.sessionMinutes * 60))
        try await connection.execute(
            "INSERT INTO admin.sessions (user_id, token_hash, auth_session_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
            [userID, Data(Self.tokenHash(token)), caller.sessionID, at, expiresAt])
        let grants = try await Self.liveGrants(of: userID, at: at, on: connection)
        return .opened(
            OpenedAdminSession(
                token: token, expiresAt: expiresAt, roles: grants.grants, scopes: grants.scopes.map(\.rawValue).sorted()))
    }

    /// The session `token` names for `caller`, with its live grants; 401 when it is not open or
    /// was opened from another sign-in session than the caller's.
    public func session(_ caller: Caller, token: String?, requestID: String) async throws -> AdminSession {
        guard let token, !token.isEmpty else { throw AdminErrors.sessionMissing }
        let userID = try caller.requireUser()
        let at = now()
        // One statement, one round trip: the session, and a row per live grant with its scopes.
        let rows = try await database.withStatement { connection in
            var rows: [(UUID, Date, UUID?, String?, String?, Date?, [String])] = []
            for try await row in try await connection.rows(
                """
                SELECT s.id, s.expires_at, g.id, g.role, g.kind, g.expires_at,
                       ARRAY(SELECT rs.scope FROM admin.role_scopes rs WHERE rs.role = g.role)
                FROM admin.sessions s JOIN admin.admin_users a ON a.user_id = s.user_id
                LEFT JOIN admin.role_grants g
                       ON g.user_id = s.user_id AND g.revoked_at IS NULL AND (g.expires_at IS NULL OR g.expires_at > $3)
                WHERE s.token_hash = $1 AND s.user_id = $2 AND s.ended_at IS NULL AND s.expires_at > $3 AND a.status = 'active'
                  AND s.auth_session_id IS NOT DISTINCT FROM $4
                ORDER BY g.role, g.granted_at
                """, [Data(Self.tokenHash(token)), userID, at, caller.sessionID]
            ).decode((UUID, Date, UUID?, String?, String?, Date?, [String]).self) {
                rows.append(row)
            }
            return rows
        }
        guard let first = rows.first else { throw AdminErrors.sessionInvalid }
        var grants: [AdminSession.Grant] = []
        var scopes = Set<AdminScope>()
        for (_, _, grantID, roleName, kind, expiresAt, scopeNames) in rows {
            guard let grantID, let roleName, let role = AdminRole(rawValue: roleName), let kind else { continue }
            grants.append(.init(id: grantID, role: role, kind: kind, expiresAt: expiresAt))
            scopes.formUnion(scopeNames.compactMap(AdminScope.init(rawValue:)))
        }
        return AdminSession(
            id: first.0, userID: userID, expiresAt: first.1, grants: grants, scopes: scopes, caller: caller, requestID: requestID)
    }

    /// Ends the session now (sign-out of the console).
    public func closeSession(_ session: AdminSession) async throws {
        try await database.withOwner { connection in
            try await connection.execute("UPDATE admin.sessions SET ended_at = now() WHERE id = $1 AND ended_at IS NULL", [session.id])
            try await AuditLog.append(
                AuditEvent(actor: session.userID, action: "admin.session.close", target: session.userID.uuidString.lowercased(),
                           outcome: .allowed, requestID: session.requestID), on: connection)
        }
    }

    /// The grants live at `at` and the scopes they give.
    static func liveGrants(of userID: UUID, at: Date, on connection: PostgresConnection) async throws -> (grants: [AdminSession.Grant], scopes: Set<AdminScope>) {
        var grants: [AdminSession.Grant] = []
        for try await (id, role, kind, expiresAt) in try await connection.rows(
            """
            SELECT id, role, kind, expires_at FROM admin.role_grants
            WHERE user_id = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2) ORDER BY role, granted_at
            """, [userID, at]
        ).decode((UUID, String, String, Date?).self) {
            if let role = AdminRole(rawValue: role) { grants.append(.init(id: id, role: role, kind: kind, expiresAt: expiresAt)) }
        }
        var scopes = Set<AdminScope>()
        for try await scope in try await connection.rows(
            "SELECT scope FROM admin.role_scopes WHERE role = ANY($1::text[])", [grants.map(\.role.rawValue)]
        ).decode(String.self) {
            if let scope = AdminScope(rawValue: scope) { scopes.insert(scope) }
        }
        return (grants, scopes)
    }

    /// A new session token: 32 random bytes, base64url.
    static func newToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return Base64URL.encode(Data((0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }))
    }

    static func tokenHash(_ token: String) -> [UInt8] {
        Array(SHA256.hash(data: Data(token.utf8)))
    }

    // MARK: Scopes

    /// Continues when `session` holds `scope`; otherwise records the denial and throws 403.
    public func require(_ scope: AdminScope, _ session: AdminSession, action: String, target: String? = nil) async throws {
        guard !session.holds(scope) else { return }
        try await AuditLog.record(
            AuditEvent(actor: session.userID, action: action, scope: scope, target: target, outcome: .denied,
                       reason: "missing scope \(scope.rawValue)", requestID: session.requestID), database: database)
        throw AdminErrors.scopeRequired(scope)
    }

    /// Records an allowed read of users' content or personal data (the moderation queues).
    func recordRead(_ session: AdminSession, action: String, scope: AdminScope, target: String? = nil) async throws {
        try await AuditLog.record(
            AuditEvent(actor: session.userID, action: action, scope: scope, target: target, outcome: .allowed, requestID: session.requestID),
            database: database)
    }

    /// Continues unless one of `switches` is engaged; otherwise records the denial and throws 503.
    func refuseIfSwitchedOff(_ switches: [KillSwitch], _ session: AdminSession, action: String, target: String? = nil) async throws {
        guard let engaged = switches.first(where: killSwitches.isEngaged) else { return }
        try await AuditLog.record(
            AuditEvent(actor: session.userID, action: action, target: target, outcome: .denied,
                       reason: "kill switch \(engaged.rawValue) engaged", requestID: session.requestID), database: database)
        throw APIError.switchedOff(engaged)
    }

    /// Runs a change as the owner role after the database itself confirmed, from the admin
    /// session and the user's claims, that the admin holds `scope` (`admin.assert_scope`):
    /// the service's check is not the only one.
    func withAdminWrite<Result: Sendable>(
        _ session: AdminSession, _ scope: AdminScope, _ body: @Sendable (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        do {
            return try await database.withOwner { connection in
                try await connection.execute(
                    "SELECT set_config('request.jwt.claims', $1, true), set_config('request.admin_session', $2, true), admin.assert_scope($3)",
                    [session.caller.claimsJSON, session.id.uuidString.lowercased(), scope.rawValue])
                return try await body(connection)
            }
        } catch let error where PostgresErrorText.sqlState(error) == "42501" {
            // The session lost the scope since the request began (a grant ended, the admin
            // was disabled by someone else meanwhile): the database's own check refused.
            try await AuditLog.record(
                AuditEvent(actor: session.userID, action: "admin.write", scope: scope, outcome: .denied,
                           reason: "database refused: \(PostgresErrorText.message(error) ?? "scope not held")", requestID: session.requestID),
                database: database)
            throw AdminErrors.scopeRequired(scope)
        }
    }

    /// Runs `body` as the admin's user under row-level security, with the admin session named
    /// so the policies' `admin.has_scope` sees its grants.
    func withAdmin<Result: Sendable>(_ session: AdminSession, _ body: @Sendable (PostgresConnection) async throws -> Result) async throws -> Result {
        try await database.withCaller(session.caller) { connection in
            try await connection.execute("SELECT set_config('request.admin_session', $1, true)", [session.id.uuidString.lowercased()])
            return try await body(connection)
        }
    }
}

extension PostgresConnection {
    /// Whether the statement returns at least one row.
    func exists(_ sql: String, _ values: [(any PostgresEncodable & Sendable)?]) async throws -> Bool {
        for try await _ in try await rows(sql, values) { return true }
        return false
    }

    /// The single integer the statement returns (0 when none).
    func count(_ sql: String, _ values: [(any PostgresEncodable & Sendable)?]) async throws -> Int {
        for try await value in try await rows(sql, values).decode(Int.self) { return value }
        return 0
    }
}
