import Core
import Database
import Foundation
import Testing
import TestSupport

@testable import Admin

/// Opening admin sessions: a fresh second factor every time, each code once, and every
/// attempt in the audit log.
@Suite struct AdminSessionTests {
    @Test func aCurrentCodeOpensASessionShorterThanAUserSessionWithTheRolesScopes() async throws {
        try await TestDatabase.withDatabase { database in
            let fixture = AdminFixture(database)
            let moderator = try await fixture.admin([.moderator])
            let opened = try await fixture.admin.openSession(moderator, code: fixture.code(), requestID: "r1")
            #expect(opened.expiresAt.timeIntervalSince(fixture.clock.now) == 30 * 60)
            #expect(opened.roles.map(\.role) == [.moderator])
            #expect(opened.scopes.contains("moderation.reels"))
            #expect(!opened.scopes.contains("audit.read"))
            let session = try await fixture.admin.session(moderator, token: opened.token, requestID: "r2")
            #expect(session.userID == moderator.userID)
            let audit = try await fixture.audit()
            #expect(audit.map(\.action) == ["admin.session.open"])
            #expect(audit.map(\.outcome) == ["allowed"])
        }
    }

    @Test func aWrongCodeAndAReplayedCodeAreRefusedAndAudited() async throws {
        try await TestDatabase.withDatabase { database in
            let fixture = AdminFixture(database)
            let owner = try await fixture.admin([.owner])
            let wrong = fixture.code() == "000000" ? "111111" : "000000"
            await #expect(throws: AdminErrors.wrongCode) {
                _ = try await fixture.admin.openSession(owner, code: wrong, requestID: "r1")
            }
            let code = fixture.code()
            _ = try await fixture.admin.openSession(owner, code: code, requestID: "r2")
            // The same code again, still inside its 30 seconds: refused.
            await #expect(throws: AdminErrors.wrongCode) {
                _ = try await fixture.admin.openSession(owner, code: code, requestID: "r3")
            }
            // An older step's code is refused too once a newer one was used.
            await #expect(throws: AdminErrors.wrongCode) {
                _ = try await fixture.admin.openSession(owner, code: fixture.code(steps: -1), requestID: "r4")
            }
            let audit = try await fixture.audit()
            #expect(audit.map(\.outcome) == ["denied", "allowed", "denied", "denied"])
            #expect(audit.allSatisfy { $0.actor == owner.userID })
        }
    }

    @Test func aRecoveryCodeWorksOnce() async throws {
        try await TestDatabase.withDatabase { database in
            let fixture = AdminFixture(database)
            let owner = try await fixture.admin([.owner])
            let codes = ["ABCDE-FGH23", "JKLMN-PQR45"]
            try await database.withOwner { connection in
                try await AdminService.replaceRecoveryCodes(codes, of: owner.userID!, on: connection)
            }
            _ = try await fixture.admin.openSession(owner, code: "abcde fgh23", requestID: "r1")
            await #expect(throws: AdminErrors.wrongCode) {
                _ = try await fixture.admin.openSession(owner, code: "ABCDE-FGH23", requestID: "r2")
            }
            _ = try await fixture.admin.openSession(owner, code: "JKLMNPQR45", requestID: "r3")
        }
    }

    @Test func aPlatformUserWhoIsNotAnAdminIsRefusedAndAudited() async throws {
        try await TestDatabase.withDatabase { database in
            let fixture = AdminFixture(database)
            let user = try await fixture.user()
            await #expect(throws: AdminErrors.notAnAdmin) {
                _ = try await fixture.admin.openSession(user, code: "123456", requestID: "r1")
            }
            #expect(try await fixture.audit().map(\.outcome) == ["denied"])
            await #expect(throws: APIError.self) {
                _ = try await fixture.admin.openSession(.anonymous, code: "123456", requestID: "r2")
            }
        }
    }

    @Test func fiveWrongCodesLockOpeningForTheWindowEvenWithTheRightCode() async throws {
        try await TestDatabase.withDatabase { database in
            let fixture = AdminFixture(database)
            let owner = try await fixture.admin([.owner])
            let wrong = fixture.code() == "000000" ? "111111" : "000000"
            for attempt in 0..<AdminService.maximumFailedAttempts {
                await #expect(throws: AdminErrors.wrongCode) {
                    _ = try await fixture.admin.openSession(owner, code: wrong, requestID: "r\(attempt)")
                }
            }
            let locked = await #expect(throws: APIError.self) {
                _ = try await fixture.admin.openSession(owner, code: fixture.code(), requestID: "r6")
            }
            #expect(locked?.code == "admin_code_attempts")
            fixture.clock.advance(seconds: Double(AdminService.attemptWindowMinutes * 60 + 30))
            _ = try await fixture.admin.openSession(owner, code: fixture.code(), requestID: "r7")
        }
    }

    @Test func aSessionServesOnlyTheSignInSessionItWasOpenedFrom() async throws {
        try await TestDatabase.withDatabase { database in
            let fixture = AdminFixture(database)
            let owner = try await fixture.admin([.owner])
            var signedIn = owner
            signedIn.sessionID = UUID()
            let opened = try await fixture.admin.openSession(signedIn, code: fixture.code(), requestID: "r1")
            _ = try await fixture.admin.session(signedIn, token: opened.token, requestID: "r2")
            var later = owner
            later.sessionID = UUID()  // the same user, signed in again elsewhere
            await #expect(throws: AdminErrors.sessionInvalid) {
                _ = try await fixture.admin.session(later, token: opened.token, requestID: "r3")
            }
        }
    }

    @Test func theLockCountsWrongCodesOnlyAndSaysWhenItEnds() async throws {
        try await TestDatabase.withDatabase { database in
            let fixture = AdminFixture(database)
            let owner = try await fixture.admin([.owner])
            let wrong = fixture.code() == "000000" ? "111111" : "000000"
            for attempt in 0..<AdminService.maximumFailedAttempts {
                _ = try? await fixture.admin.openSession(owner, code: wrong, requestID: "w\(attempt)")
            }
            // Refusals while locked do not extend the lock.
            for attempt in 0..<3 {
                let locked = await #expect(throws: APIError.self) {
                    _ = try await fixture.admin.openSession(owner, code: wrong, requestID: "l\(attempt)")
                }
                #expect(locked?.code == "admin_code_attempts")
                #expect((1...900).contains(locked?.retryAfterSeconds ?? 0))
            }
            fixture.clock.advance(seconds: Double(AdminService.attemptWindowMinutes * 60 + 30))
            _ = try await fixture.admin.openSession(owner, code: fixture.code(), requestID: "ok")
        }
    }

    @Test func aSessionEndsAtItsExpiryAtSignOutAndWhenTheAdminIsDisabled() async throws {
        try await TestDatabase.withDatabase { database in
            let fixture = AdminFixture(database, sessionMinutes: 5)
            let owner = try await fixture.admin([.owner])
            let support = try await fixture.admin([.support])
            let opened = try await fixture.admin.openSession(support, code: fixture.code(), requestID: "r1")
            fixture.clock.advance(seconds: 5 * 60 + 1)
            await #expect(throws: AdminErrors.sessionInvalid) {
                _ = try await fixture.admin.session(support, token: opened.token, requestID: "r2")
            }
            // Someone else's token is no session of this user's.
            let ownerOpened = try await fixture.admin.openSession(owner, code: fixture.code(), requestID: "r2b")
            let ownerSession = try await fixture.admin.session(owner, token: ownerOpened.token, requestID: "r2c")
            let second = try await fixture.admin.openSession(support, code: fixture.code(), requestID: "r3")
            await #expect(throws: AdminErrors.sessionInvalid) {
                _ = try await fixture.admin.session(owner, token: second.token, requestID: "r4")
            }
            try await fixture.admin.setStatus(ownerSession, target: support.userID!, active: false, reason: "left the team")
            await #expect(throws: AdminErrors.sessionInvalid) {
                _ = try await fixture.admin.session(support, token: second.token, requestID: "r5")
            }
            try await fixture.admin.closeSession(ownerSession)
            await #expect(throws: AdminErrors.sessionInvalid) {
                _ = try await fixture.admin.session(owner, token: ownerOpened.token, requestID: "r6")
            }
            await #expect(throws: AdminErrors.sessionMissing) {
                _ = try await fixture.admin.session(owner, token: nil, requestID: "r7")
            }
        }
    }
}
