import Core
import Database
import Foundation
import PostgresNIO
import Testing
import TestSupport

@testable import Admin

/// Every admin operation, for every role: allowed past the scope check exactly when the role's
/// scopes (as the spec lists them) include the operation's scope; otherwise 403
/// `admin_scope_required`, audited. The reels and accounts seams are test doubles here (their
/// real implementations have their own tests and the e2e suite).
@Suite struct AdminScopeMatrixTests {
    /// The spec's roles → scopes, written out independently of migration 0027.
    static let scopes: [AdminRole: Set<AdminScope>] = [
        .owner: Set(AdminScope.allCases),
        .securityAdmin: [.dashboardRead, .iamRead, .auditRead, .approvalsDecide, .jitRequest, .verification],
        .moderator: [.dashboardRead, .moderationContent, .moderationReels, .moderationHashtags, .jitRequest],
        .support: [.dashboardRead, .usersLookup, .jitRequest],
        .readonlyAuditor: [.dashboardRead, .iamRead, .auditRead],
    ]

    struct FakeReels: ReelReview {
        func queue(_ name: String, limit: Int, before: Date?) async throws -> Data { Data("[]".utf8) }
        func decide(reel: UUID, approve: Bool, reason: String?, moderator: UUID, on connection: PostgresConnection) async throws -> Bool { true }
        func warn(reel: UUID, moderator: UUID, on connection: PostgresConnection) async throws -> UUID? { moderator }
        func summary() async throws -> Data { Data(#"{"pending":0,"reported":0,"hashtags_blocked":0,"arbiter":null}"#.utf8) }
        func blockedHashtags() async throws -> Data { Data("[]".utf8) }
        func block(hashtag: String, reason: String, moderator: UUID, on connection: PostgresConnection) async throws -> (tag: String, held: Int)? {
            (hashtag, 0)
        }
        func unblock(hashtag: String, on connection: PostgresConnection) async throws -> String? { hashtag }
    }

    struct FakeAccounts: AccountDirectory {
        let known: UUID
        func account(id: UUID) async throws -> AccountSummary? {
            AccountSummary(userID: known, maskedPhone: "+1********00", phoneConfirmed: true, createdAt: Date(), lastSignInAt: nil, suspendedUntil: nil)
        }
        func account(phone: String) async throws -> AccountSummary? { try await account(id: known) }
        func suspend(id: UUID, until: Date?, on connection: PostgresConnection) async throws -> Bool { true }
    }

    struct FakeReports: ReportedContent {
        func queue(_ kind: ReportedKind, limit: Int, before: Date?) async throws -> Data { Data("[]".utf8) }
        func count(_ kind: ReportedKind) async throws -> Int { 0 }
        func decide(_ kind: ReportedKind, id: UUID, remove: Bool, on connection: PostgresConnection) async throws -> ModeratedContent? {
            ModeratedContent(author: id)
        }
    }

    @Test(arguments: AdminRole.allCases)
    func everyOperationChecksItsScopeForEveryRole(role: AdminRole) async throws {
        try await TestDatabase.withDatabase { database in
            let fixture = AdminFixture(database)
            let owner = try await fixture.admin([.owner])
            let bystander = try await fixture.admin([.support])
            let caller = try await fixture.admin([role])
            let newcomer = try await fixture.user()
            let ownerSession = try await fixture.session(owner)
            let session = try await fixture.session(caller)
            let admin = AdminService(
                database: database, settings: AdminSettings(), reelReview: FakeReels(), accounts: FakeAccounts(known: newcomer.userID!),
                reportedContent: FakeReports(), now: { fixture.clock.now })
            // Something to decide: a sensitive grant the owner asked for.
            let request = try #require(
                try await admin.requestRole(ownerSession, target: bystander.userID!, role: .securityAdmin, minutes: nil, reason: "matrix").requestID)

            let operations: [(AdminScope, String, () async throws -> Void)] = [
                (.dashboardRead, "kill switch states", { _ = try await admin.killSwitchStates(session) }),
                (.dashboardRead, "dashboard", { _ = try await admin.dashboard(session) }),
                (.iamRead, "admin list", { _ = try await admin.admins(session) }),
                (.auditRead, "audit entries", { _ = try await admin.auditEntries(session, AuditQuery()) }),
                (.auditRead, "audit verify", { _ = try await admin.verifyAudit(session) }),
                (.moderationReels, "reels queue", { _ = try await admin.reelQueue(session, queue: "pending", limit: 5, before: nil) }),
                (.moderationReels, "reel decision", { try await admin.decideReel(session, reel: UUID(), decision: .approve, reason: "ok") }),
                (.moderationReels, "reel warning", { try await admin.decideReel(session, reel: UUID(), decision: .warn, reason: "ok") }),
                (.moderationContent, "reported messages", { _ = try await admin.reportQueue(session, .messages, limit: 5, before: nil) }),
                (.moderationContent, "reported profiles", { _ = try await admin.reportQueue(session, .profiles, limit: 5, before: nil) }),
                (.moderationContent, "message decision", {
                    try await admin.decideReport(session, .messages, id: newcomer.userID!, decision: .approve, reason: "ok")
                }),
                (.moderationContent, "profile warning", {
                    try await admin.decideReport(session, .profiles, id: newcomer.userID!, decision: .warn, reason: "be kind")
                }),
                (.moderationHashtags, "hashtag blocklist", { _ = try await admin.blockedHashtags(session) }),
                (.moderationHashtags, "block hashtag", { try await admin.blockHashtag(session, "spam", reason: "x") }),
                (.moderationHashtags, "unblock hashtag", { try await admin.unblockHashtag(session, "spam", reason: "x") }),
                (.usersLookup, "account lookup", { _ = try await admin.lookUpAccount(session, userID: newcomer.userID, phone: nil) }),
                (.moderationContent, "suspension", { try await admin.suspendAccount(session, userID: newcomer.userID!, hours: 1, reason: "x") }),
                (.approvalsDecide, "decision", { _ = try await admin.decide(session, requestID: request, approve: false, reason: "x") }),
                (.jitRequest, "elevation", {
                    _ = try await admin.requestRole(session, target: session.userID, role: .readonlyAuditor, minutes: 5, reason: "x")
                }),
                (.iamWrite, "standing grant", {
                    _ = try await admin.requestRole(session, target: bystander.userID!, role: .moderator, minutes: nil, reason: "x")
                }),
                (.iamWrite, "add admin", { try await admin.addAdmin(session, userID: newcomer.userID!, reason: "x") }),
                (.iamWrite, "remove admin", { try await admin.removeAdmin(session, target: UUID(), reason: "x") }),
                (.iamWrite, "reset authenticator", { try await admin.resetAuthenticator(session, target: UUID(), reason: "x") }),
                (.iamWrite, "disable admin", { try await admin.setStatus(session, target: bystander.userID!, active: false, reason: "x") }),
                (.killSwitchesWrite, "kill switch", { try await admin.setKillSwitch(session, .calls, engaged: false, reason: "x") }),
            ]
            let held = Self.scopes[role] ?? []
            var denials = 0
            for (scope, name, operation) in operations {
                var code: String?
                do { try await operation() } catch let error as APIError { code = error.code }
                if held.contains(scope) {
                    #expect(code != "admin_scope_required", "\(role.rawValue) may \(name) (\(scope.rawValue)): \(code ?? "ok")")
                } else {
                    #expect(code == "admin_scope_required", "\(role.rawValue) may not \(name) (\(scope.rawValue)): \(code ?? "ok")")
                    denials += 1
                }
            }
            let audited = try await database.withOwner { connection in
                try await connection.count(
                    "SELECT count(*) FROM admin.audit_log WHERE actor = $1 AND outcome = 'denied' AND reason LIKE 'missing scope %'",
                    [caller.userID])
            }
            #expect(audited == denials)
        }
    }
}
