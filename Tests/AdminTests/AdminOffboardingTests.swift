import Core
import Database
import Foundation
import Testing
import TestSupport

@testable import Admin

/// Removing an admin and resetting a lost authenticator: what the target keeps and loses, the
/// last owner protected, both audited.
@Suite struct AdminOffboardingTests {
    @Test func removingAnAdminRevokesEverythingAndEndsTheirSessions() async throws {
        try await TestDatabase.withDatabase { database in
            let fixture = AdminFixture(database)
            let owner = try await fixture.admin([.owner])
            let moderator = try await fixture.admin([.moderator, .support])
            let ownerSession = try await fixture.session(owner)
            let theirs = try await fixture.admin.openSession(moderator, code: fixture.code(), requestID: "r")
            fixture.clock.advance(seconds: 30)
            _ = try await fixture.admin.session(moderator, token: theirs.token, requestID: "before")

            try await fixture.admin.removeAdmin(ownerSession, target: moderator.userID!, reason: "left the team")
            await #expect(throws: AdminErrors.sessionInvalid) {
                _ = try await fixture.admin.session(moderator, token: theirs.token, requestID: "after")
            }
            let state = try await database.withOwner { connection in
                var row: (String, Bool, Int, Int)?
                for try await found in try await connection.rows(
                    """
                    SELECT a.status, a.totp_secret IS NULL,
                           (SELECT count(*) FROM admin.role_grants g WHERE g.user_id = a.user_id AND g.revoked_at IS NULL),
                           (SELECT count(*) FROM admin.recovery_codes r WHERE r.user_id = a.user_id)
                    FROM admin.admin_users a WHERE a.user_id = $1
                    """, [moderator.userID!]
                ).decode((String, Bool, Int, Int).self) {
                    row = found
                }
                return row
            }
            #expect(state?.0 == "disabled" && state?.1 == true && state?.2 == 0 && state?.3 == 0)
            await #expect(throws: AdminErrors.targetNotAdmin) {
                try await fixture.admin.removeAdmin(ownerSession, target: UUID(), reason: "nobody")
            }
            // The only owner cannot remove themselves: refused, audited, nothing changed.
            await #expect(throws: AdminErrors.lastOwner) {
                try await fixture.admin.removeAdmin(ownerSession, target: owner.userID!, reason: "bye")
            }
            _ = try await fixture.admin.admins(ownerSession)  // the owner's session still works
            let audit = try await fixture.audit().filter { $0.action == "admin.admins.remove" }.map(\.outcome)
            #expect(audit == ["allowed", "denied"])
        }
    }

    @Test func aResetAuthenticatorIsEnrolledAgainByItsAdminOnly() async throws {
        try await TestDatabase.withDatabase { database in
            let fixture = AdminFixture(database)
            let owner = try await fixture.admin([.owner])
            let support = try await fixture.admin([.support])
            let ownerSession = try await fixture.session(owner)
            let supportSession = try await fixture.session(support)
            let supportOpened = try await fixture.admin.openSession(support, code: fixture.code(), requestID: "second")
            fixture.clock.advance(seconds: 30)
            // Support may not reset anyone's authenticator.
            await #expect(throws: AdminErrors.scopeRequired(.iamWrite)) {
                try await fixture.admin.resetAuthenticator(supportSession, target: owner.userID!, reason: "x")
            }
            try await fixture.admin.resetAuthenticator(ownerSession, target: support.userID!, reason: "lost the phone")
            await #expect(throws: AdminErrors.sessionInvalid) {
                _ = try await fixture.admin.session(support, token: supportOpened.token, requestID: "after")
            }
            await #expect(throws: AdminErrors.notEnrolled) {
                _ = try await fixture.admin.openSession(support, code: fixture.code(), requestID: "old code")
            }
            // The admin enrols again with a new secret; the old one opens nothing.
            let enrolment = try await fixture.admin.enrol(support, requestID: "re-enrol")
            #expect(enrolment.secret != AdminFixture.secret)
            let code = TOTP.code(secret: enrolment.secret, step: TOTP.step(at: fixture.clock.now))
            _ = try await fixture.admin.openSession(support, code: code, requestID: "new code")
            // Roles are kept: a reset is not a removal.
            let grants = try await database.withOwner { connection in
                var count = 0
                for try await n in try await connection.rows(
                    "SELECT count(*) FROM admin.role_grants WHERE user_id = $1 AND role = 'support' AND revoked_at IS NULL", [support.userID!]
                ).decode(Int.self) {
                    count = n
                }
                return count
            }
            #expect(grants == 1)
            let audit = try await fixture.audit().filter { $0.action == "admin.admins.reset_authenticator" }.map(\.outcome)
            #expect(audit == ["denied", "allowed"])
        }
    }
}
