import Core
import Database
import Foundation
import Testing
import TestSupport

@testable import Admin

/// Every admin call checks its scope in the service (403, denial audited) and the database
/// checks it again under row-level security.
@Suite struct AdminScopeTests {
    /// Which roles may call what: (role, may list admins, may read the audit log, may disable admins).
    @Test(arguments: [
        (AdminRole.owner, true, true, true),
        (.securityAdmin, true, true, false),
        (.moderator, false, false, false),
        (.support, false, false, false),
        (.readonlyAuditor, true, true, false),
    ])
    func everyRoleGetsExactlyItsScopes(role: AdminRole, listsAdmins: Bool, readsAudit: Bool, disablesAdmins: Bool) async throws {
        try await TestDatabase.withDatabase { database in
            let fixture = AdminFixture(database)
            _ = try await fixture.admin([.owner])
            let other = try await fixture.admin([.support])
            let caller = try await fixture.admin([role])
            let session = try await fixture.session(caller)

            let admins = await AdminFixture.outcome { _ = try await fixture.admin.admins(session) }
            #expect(admins == (listsAdmins ? nil : "admin_scope_required"))
            let audit = await AdminFixture.outcome { _ = try await fixture.admin.auditEntries(session, AuditQuery()) }
            #expect(audit == (readsAudit ? nil : "admin_scope_required"))
            let verify = await AdminFixture.outcome { _ = try await fixture.admin.verifyAudit(session) }
            #expect(verify == (readsAudit ? nil : "admin_scope_required"))
            let disable = await AdminFixture.outcome {
                try await fixture.admin.setStatus(session, target: other.userID!, active: false, reason: "test")
            }
            #expect(disable == (disablesAdmins ? nil : "admin_scope_required"))

            let denials = try await fixture.audit().filter { $0.outcome == "denied" }
            let expectedDenials = [listsAdmins, readsAudit, readsAudit, disablesAdmins].filter { !$0 }.count
            #expect(denials.count == expectedDenials)
            #expect(denials.allSatisfy { $0.actor == caller.userID })
        }
    }

    @Test func theDatabaseHidesAdminTablesFromASessionWithoutTheScope() async throws {
        try await TestDatabase.withDatabase { database in
            let fixture = AdminFixture(database)
            let owner = try await fixture.admin([.owner])
            let support = try await fixture.admin([.support])
            _ = try await fixture.session(owner)
            let session = try await fixture.session(support)
            let (auditRows, admins, grants) = try await fixture.admin.withAdmin(session) { connection in
                (
                    try await connection.count("SELECT count(*) FROM admin.audit_log", []),
                    try await connection.count("SELECT count(*) FROM admin.admin_users", []),
                    try await connection.count("SELECT count(*) FROM admin.role_grants", [])
                )
            }
            #expect(auditRows == 0)
            #expect(admins == 1)  // their own row only
            #expect(grants == 1)
            // Without an admin session the signed-in user sees nothing at all.
            let plain = try await database.withCaller(support) { connection in
                try await connection.count("SELECT count(*) FROM admin.admin_users", [])
            }
            #expect(plain == 0)
            // Nobody reads the TOTP secrets through a request role.
            await #expect(throws: (any Error).self) {
                try await fixture.admin.withAdmin(session) { connection in
                    try await connection.execute("SELECT totp_secret FROM admin.admin_users", [])
                }
            }
        }
    }

    /// The database checks the sign-in binding too: the same admin session under the claims of
    /// another sign-in session of the same user sees nothing and may change nothing.
    @Test func theDatabaseRefusesAnAdminSessionUnderAnotherSignIn() async throws {
        try await TestDatabase.withDatabase { database in
            let fixture = AdminFixture(database)
            let plain = try await fixture.admin([.owner])
            let id = plain.userID!
            func signedIn(_ session: UUID) -> Caller {
                Caller(role: .authenticated, userID: id, sessionID: session,
                       claimsJSON: #"{"sub":"\#(id.uuidString.lowercased())","role":"authenticated","session_id":"\#(session.uuidString.lowercased())"}"#)
            }
            let first = signedIn(UUID()), other = signedIn(UUID())
            let opened = try await fixture.admin.openSession(first, code: fixture.code(), requestID: "r")
            var session = try await fixture.admin.session(first, token: opened.token, requestID: "r")
            let seen = try await fixture.admin.withAdmin(session) { connection in
                try await connection.count("SELECT count(*) FROM admin.audit_log", [])
            }
            #expect(seen > 0)
            session.caller = other
            let elsewhere = try await fixture.admin.withAdmin(session) { connection in
                try await connection.count("SELECT count(*) FROM admin.audit_log", [])
            }
            #expect(elsewhere == 0)
            await #expect(throws: AdminErrors.scopeRequired(.iamWrite)) {
                try await fixture.admin.setStatus(session, target: UUID(), active: false, reason: "x")
            }
        }
    }

    @Test func anExpiredGrantGivesNothingWithoutASweeper() async throws {
        try await TestDatabase.withDatabase { database in
            let fixture = AdminFixture(database)
            _ = try await fixture.admin([.owner])
            let auditor = try await fixture.admin([])
            try await database.withOwner { connection in
                try await connection.execute(
                    """
                    INSERT INTO admin.role_grants (user_id, role, kind, reason, granted_at, expires_at)
                    VALUES ($1, 'readonly_auditor', 'jit', 'review', now() - interval '2 hours', now() - interval '1 hour')
                    """, [auditor.userID!])
            }
            let session = try await fixture.session(auditor)
            #expect(session.grants.isEmpty)
            #expect(await AdminFixture.outcome { _ = try await fixture.admin.auditEntries(session, AuditQuery()) } == "admin_scope_required")
            let rows = try await fixture.admin.withAdmin(session) { connection in
                try await connection.count("SELECT count(*) FROM admin.audit_log", [])
            }
            #expect(rows == 0)
        }
    }

    @Test func theLastActiveOwnerCannotBeDisabledRevokedOrDeleted() async throws {
        try await TestDatabase.withDatabase { database in
            let fixture = AdminFixture(database)
            let owner = try await fixture.admin([.owner])
            let session = try await fixture.session(owner)
            let refused = await AdminFixture.outcome {
                try await fixture.admin.setStatus(session, target: owner.userID!, active: false, reason: "leaving")
            }
            #expect(refused == "admin_last_owner")
            // The database refuses it too, whatever path a change takes.
            for statement in [
                "UPDATE admin.admin_users SET status = 'disabled' WHERE user_id = $1",
                "UPDATE admin.role_grants SET revoked_at = now() WHERE user_id = $1",
                "UPDATE admin.role_grants SET expires_at = now() + interval '1 minute' WHERE user_id = $1",
                "DELETE FROM admin.role_grants WHERE user_id = $1",
                "DELETE FROM admin.admin_users WHERE user_id = $1",
            ] {
                await #expect(throws: (any Error).self, "\(statement)") {
                    try await database.withOwner { connection in try await connection.execute(statement, [owner.userID!]) }
                }
            }
            // With a second owner, one of them may go.
            let second = try await fixture.admin([.owner])
            try await fixture.admin.setStatus(session, target: second.userID!, active: false, reason: "rotation")
            let audit = try await fixture.audit().filter { $0.action == "admin.admins.disable" }
            #expect(audit.map(\.outcome) == ["denied", "allowed"])
        }
    }

    @Test func twoOwnersDisablingEachOtherAtOnceLeaveOneOwner() async throws {
        try await TestDatabase.withDatabase { database in
            let fixture = AdminFixture(database)
            let first = try await fixture.admin([.owner])
            let second = try await fixture.admin([.owner])
            let firstSession = try await fixture.session(first)
            let secondSession = try await fixture.session(second)
            async let a = AdminFixture.outcome {
                try await fixture.admin.setStatus(firstSession, target: second.userID!, active: false, reason: "race")
            }
            async let b = AdminFixture.outcome {
                try await fixture.admin.setStatus(secondSession, target: first.userID!, active: false, reason: "race")
            }
            let outcomes = await [a, b]
            // One wins; the other is refused as the last owner, or — when the winner committed
            // first — because its own admin was disabled meanwhile (the database's scope check).
            #expect(outcomes.filter { $0 == nil }.count == 1, "\(outcomes)")
            #expect(outcomes.filter { $0 == "admin_last_owner" || $0 == "admin_scope_required" }.count == 1, "\(outcomes)")
            let active = try await database.withOwner { connection in
                try await connection.count("SELECT count(*) FROM admin.admin_users WHERE status = 'active'", [])
            }
            #expect(active == 1)
        }
    }
}
