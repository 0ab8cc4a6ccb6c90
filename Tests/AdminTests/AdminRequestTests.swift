import Core
import Database
import Foundation
import Testing
import TestSupport

@testable import Admin

/// Approvals and just-in-time elevation: the server's policy decides who approves, nobody
/// approves their own request, any denial denies, requests expire, and an approved request
/// authorises exactly one change.
@Suite struct AdminRequestTests {
    /// Two owners and a moderator to promote, each with a session.
    struct Cast {
        let fixture: AdminFixture
        let owner: AdminSession
        let otherOwner: AdminSession
        let security: AdminSession
        let moderator: AdminSession
    }

    static func cast(_ database: Database) async throws -> Cast {
        let fixture = AdminFixture(database)
        let owner = try await fixture.admin([.owner])
        let otherOwner = try await fixture.admin([.owner])
        let security = try await fixture.admin([.securityAdmin])
        let moderator = try await fixture.admin([.moderator])
        return Cast(
            fixture: fixture, owner: try await fixture.session(owner), otherOwner: try await fixture.session(otherOwner),
            security: try await fixture.session(security), moderator: try await fixture.session(moderator))
    }

    @Test func aSensitiveGrantWaitsForAnotherOwnerAndIsExecutedOnce() async throws {
        try await TestDatabase.withDatabase { database in
            let cast = try await Self.cast(database)
            let admin = cast.fixture.admin
            let request = try await admin.requestRole(cast.owner, target: cast.moderator.userID, role: .securityAdmin, minutes: nil, reason: "on call")
            #expect(request.status == "pending")
            let id = try #require(request.requestID)
            // Not yet approved: nothing to execute.
            await #expect(throws: AdminErrors.requestNotApproved) { _ = try await admin.execute(cast.owner, requestID: id) }
            // Neither the requester nor the admin it promotes decides it; a security admin lacks
            // the policy's role (owner).
            await #expect(throws: AdminErrors.selfApproval) { _ = try await admin.decide(cast.owner, requestID: id, approve: true, reason: "me") }
            try await database.withOwner { connection in
                try await connection.execute(
                    "INSERT INTO admin.role_grants (user_id, role, kind, reason) VALUES ($1, 'owner', 'jit', 'test')", [cast.moderator.userID])
            }
            let promotedOwner = try await admin.session(
                cast.moderator.caller, token: try await Self.reopen(cast.fixture, cast.moderator), requestID: "r")
            await #expect(throws: AdminErrors.selfApproval) {
                _ = try await admin.decide(promotedOwner, requestID: id, approve: true, reason: "me too")
            }
            try await database.withOwner { connection in
                try await connection.execute("DELETE FROM admin.role_grants WHERE user_id = $1 AND kind = 'jit'", [cast.moderator.userID])
            }
            await #expect(throws: AdminErrors.approverRole("owner")) {
                _ = try await admin.decide(cast.security, requestID: id, approve: true, reason: "ok")
            }
            #expect(try await admin.decide(cast.otherOwner, requestID: id, approve: true, reason: "ok") == "approved")
            // Only the requester executes it, once.
            await #expect(throws: AdminErrors.notRequester) { _ = try await admin.execute(cast.otherOwner, requestID: id) }
            let executed = try await admin.execute(cast.owner, requestID: id)
            #expect(executed.status == "granted" && executed.grantID != nil)
            await #expect(throws: AdminErrors.requestConsumed) { _ = try await admin.execute(cast.owner, requestID: id) }
            let promoted = try await admin.session(
                cast.moderator.caller, token: try await Self.reopen(cast.fixture, cast.moderator), requestID: "r")
            #expect(promoted.holds(.auditRead))
        }
    }

    @Test func twoConcurrentExecutionsOfOneApprovalGrantOnce() async throws {
        try await TestDatabase.withDatabase { database in
            let cast = try await Self.cast(database)
            let admin = cast.fixture.admin
            let id = try #require(
                try await admin.requestRole(cast.owner, target: cast.moderator.userID, role: .owner, minutes: nil, reason: "succession").requestID)
            _ = try await admin.decide(cast.otherOwner, requestID: id, approve: true, reason: "agreed")
            async let first = AdminFixture.outcome { _ = try await admin.execute(cast.owner, requestID: id) }
            async let second = AdminFixture.outcome { _ = try await admin.execute(cast.owner, requestID: id) }
            let outcomes = await [first, second]
            #expect(outcomes.filter { $0 == nil }.count == 1)
            #expect(outcomes.contains("admin_request_consumed"))
            let grants = try await database.withOwner { connection in
                try await connection.count("SELECT count(*) FROM admin.role_grants WHERE user_id = $1 AND role = 'owner'", [cast.moderator.userID])
            }
            #expect(grants == 1)
        }
    }

    @Test func anyDenialDeniesAndAnExpiredRequestCannotBeDecidedOrExecuted() async throws {
        try await TestDatabase.withDatabase { database in
            let cast = try await Self.cast(database)
            let admin = cast.fixture.admin
            let denied = try #require(
                try await admin.requestRole(cast.owner, target: cast.moderator.userID, role: .owner, minutes: nil, reason: "x").requestID)
            #expect(try await admin.decide(cast.otherOwner, requestID: denied, approve: false, reason: "no") == "denied")
            await #expect(throws: AdminErrors.requestClosed) {
                _ = try await admin.decide(cast.otherOwner, requestID: denied, approve: true, reason: "changed my mind")
            }
            await #expect(throws: AdminErrors.requestNotApproved) { _ = try await admin.execute(cast.owner, requestID: denied) }

            let approved = try #require(
                try await admin.requestRole(cast.owner, target: cast.moderator.userID, role: .owner, minutes: nil, reason: "y").requestID)
            _ = try await admin.decide(cast.otherOwner, requestID: approved, approve: true, reason: "ok")
            let late = try #require(
                try await admin.requestRole(cast.owner, target: cast.moderator.userID, role: .securityAdmin, minutes: nil, reason: "z").requestID)
            cast.fixture.clock.advance(seconds: AdminService.requestLifetime + 1)
            await #expect(throws: AdminErrors.requestExpired) { _ = try await admin.execute(cast.owner, requestID: approved) }
            await #expect(throws: AdminErrors.requestExpired) {
                _ = try await admin.decide(cast.otherOwner, requestID: late, approve: true, reason: "too late")
            }
        }
    }

    @Test func theDatabaseRefusesASelfApprovalWhateverThePath() async throws {
        try await TestDatabase.withDatabase { database in
            let cast = try await Self.cast(database)
            let id = try #require(
                try await cast.fixture.admin.requestRole(cast.owner, target: cast.moderator.userID, role: .owner, minutes: nil, reason: "x").requestID)
            let error = await #expect(throws: (any Error).self) {
                try await database.withOwner { connection in
                    try await connection.execute(
                        "INSERT INTO admin.approvals (request_id, approver, decision, reason) VALUES ($1, $2, 'approve', 'sneaky')",
                        [id, cast.owner.userID])
                }
            }
            #expect(error.flatMap(PostgresErrorText.sqlState) == "42501")
        }
    }

    @Test func justInTimeElevationEndsByItselfOrEarlierWhenRevoked() async throws {
        try await TestDatabase.withDatabase { database in
            let cast = try await Self.cast(database)
            let admin = cast.fixture.admin
            // A non-sensitive role is granted at once, for the minutes asked.
            let granted = try await admin.requestRole(cast.moderator, target: cast.moderator.userID, role: .readonlyAuditor, minutes: 10, reason: "audit review")
            #expect(granted.status == "granted")
            let expiresAt = try #require(granted.expiresAt)
            #expect(abs(expiresAt.timeIntervalSince(cast.fixture.clock.now) - 600) < 1)
            for minutes in [0, 241] {
                await #expect(throws: APIError.self) {
                    _ = try await admin.requestRole(cast.moderator, target: cast.moderator.userID, role: .support, minutes: minutes, reason: "x")
                }
            }
            let elevated = try await Self.reopen(cast.fixture, cast.moderator)
            #expect(try await admin.session(cast.moderator.caller, token: elevated, requestID: "r").holds(.auditRead))
            // Ten minutes later the grant is over: checked at use, no sweeper ran.
            cast.fixture.clock.advance(seconds: 601)
            let later = try await Self.reopen(cast.fixture, cast.moderator)
            #expect(!(try await admin.session(cast.moderator.caller, token: later, requestID: "r").holds(.auditRead)))

            // A sensitive role needs approval; once executed it can be revoked early by its holder.
            let request = try await admin.requestRole(cast.security, target: cast.security.userID, role: .owner, minutes: 30, reason: "incident")
            #expect(request.status == "pending")
            _ = try await admin.decide(cast.owner, requestID: request.requestID!, approve: true, reason: "go")
            let grant = try await admin.execute(cast.security, requestID: request.requestID!)
            try await admin.revokeGrant(cast.security, grantID: grant.grantID!, reason: "done")
            await #expect(throws: AdminErrors.grantNotFound) { try await admin.revokeGrant(cast.security, grantID: grant.grantID!, reason: "again") }
            // Elevation is for oneself only.
            await #expect(throws: APIError.self) {
                _ = try await admin.requestRole(cast.moderator, target: cast.owner.userID, role: .support, minutes: 5, reason: "x")
            }
        }
    }

    @Test func killSwitchesStopAdminWritesButCanAlwaysBeReleased() async throws {
        try await TestDatabase.withDatabase { database in
            let cast = try await Self.cast(database)
            let board = KillSwitchBoard(database: database, logger: cast.fixture.admin.database.logger)
            let admin = AdminService(database: database, settings: AdminSettings(), killSwitches: board, now: { cast.fixture.clock.now })
            try await admin.setKillSwitch(cast.owner, .iamWrites, engaged: true, reason: "incident")
            try await board.refresh()
            #expect(board.isEngaged(.iamWrites) && !board.isEngaged(.calls))
            let refused = await #expect(throws: APIError.self) {
                _ = try await admin.requestRole(cast.owner, target: cast.moderator.userID, role: .support, minutes: nil, reason: "x")
            }
            #expect(refused?.code == "kill_switch_engaged")
            // Only owners flip switches.
            await #expect(throws: AdminErrors.scopeRequired(.killSwitchesWrite)) {
                try await admin.setKillSwitch(cast.security, .iamWrites, engaged: false, reason: "x")
            }
            try await admin.setKillSwitch(cast.owner, .adminWrites, engaged: true, reason: "freeze")
            try await admin.setKillSwitch(cast.owner, .adminWrites, engaged: false, reason: "thaw")
            try await admin.setKillSwitch(cast.owner, .iamWrites, engaged: false, reason: "over")
            try await board.refresh()
            #expect(!board.isEngaged(.iamWrites))
            _ = try await admin.requestRole(cast.owner, target: cast.moderator.userID, role: .support, minutes: nil, reason: "x")
            let flips = try await cast.fixture.audit().filter { $0.action.hasPrefix("admin.kill_switch.") }
            #expect(flips.filter { $0.outcome == "allowed" }.count == 4)
            #expect(flips.filter { $0.outcome == "denied" }.map(\.actor) == [cast.security.userID])
        }
    }

    /// A fresh session token for `session`'s admin (the clock moves a step for a new code).
    static func reopen(_ fixture: AdminFixture, _ session: AdminSession) async throws -> String {
        let opened = try await fixture.admin.openSession(session.caller, code: fixture.code(), requestID: "reopen")
        fixture.clock.advance(seconds: 30)
        return opened.token
    }
}
