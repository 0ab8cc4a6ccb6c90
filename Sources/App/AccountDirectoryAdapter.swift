import Admin
import Auth
import Foundation
import PostgresNIO

/// The admin console's accounts seam (``AccountDirectory``) over the sign-in module's
/// ``UserAccounts``: the one place that knows both.
struct AccountDirectoryAdapter: AccountDirectory {
    let accounts: UserAccounts

    func account(id: UUID) async throws -> AccountSummary? {
        try await accounts.summary(id: id).map(Self.summary)
    }

    func account(phone: String) async throws -> AccountSummary? {
        try await accounts.summary(phone: phone).map(Self.summary)
    }

    func suspend(id: UUID, until: Date?, on connection: PostgresConnection) async throws -> Bool {
        try await accounts.suspend(id: id, until: until, on: connection)
    }

    static func summary(_ account: UserAccounts.Summary) -> AccountSummary {
        AccountSummary(
            userID: account.userID, maskedPhone: account.maskedPhone, phoneConfirmed: account.phoneConfirmed, createdAt: account.createdAt,
            lastSignInAt: account.lastSignInAt, suspendedUntil: account.bannedUntil)
    }
}
