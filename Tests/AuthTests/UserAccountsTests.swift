@testable import Auth
import Core
import Database
import Foundation
import Testing
import TestSupport

/// Accounts as operators see them: masked numbers, suspensions that stop sign-in and refresh.
@Suite struct UserAccountsTests {
    @Test(arguments: [("79991234567", "+7********67"), ("15555550372", "+1********72"), ("1234", "+****"), ("12345", "+1**45")])
    func aMaskedNumberShowsTheFirstAndLastDigitsOnly(digits: String, masked: String) {
        #expect(UserAccounts.mask(digits) == masked)
    }

    @Test func aSuspendedAccountCannotRefreshOrSignInUntilItIsLifted() async throws {
        try await TestDatabase.withDatabase { database in
            let sender = CapturingSender()
            let auth = try await AuthService.load(database: database, settings: AuthFixture.settings(), sender: sender)
            let phone = AuthFixture.phone()
            let session = try await AuthFixture.signIn(auth, sender, phone: phone)
            let accounts = UserAccounts(database: database)
            let summary = try #require(try await accounts.summary(phone: "+" + phone))
            #expect(summary.maskedPhone == UserAccounts.mask(phone))
            #expect(summary.phoneConfirmed && summary.bannedUntil == nil)
            #expect(try await accounts.summary(id: summary.userID) == summary)
            #expect(try await accounts.summary(phone: "not a number") == nil)

            let suspended = try await database.withOwner { connection in
                try await accounts.suspend(id: summary.userID, until: Date().addingTimeInterval(3600), on: connection)
            }
            #expect(suspended)
            await #expect(throws: APIError.self) { _ = try await auth.sessions.refresh(session.refresh_token) }
            await #expect(throws: APIError.self) { _ = try await AuthFixture.signIn(auth, sender, phone: phone) }

            _ = try await database.withOwner { connection in try await accounts.suspend(id: summary.userID, until: nil, on: connection) }
            _ = try await AuthFixture.signIn(auth, sender, phone: phone)
            let missing = try await database.withOwner { connection in try await accounts.suspend(id: UUID(), until: nil, on: connection) }
            #expect(!missing)
        }
    }
}
