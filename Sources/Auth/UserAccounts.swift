import Core
import Database
import Foundation
import PostgresNIO

/// Platform accounts looked up by phone for operator commands (`ecomansoni admin bootstrap`):
/// the one place outside sign-in that reaches `auth.users`.
public struct UserAccounts: Sendable {
    let database: Database

    public init(database: Database) {
        self.database = database
    }

    /// The id of the account with this phone number, creating the account when there is none
    /// (its owner then signs in with the number as usual). Nil when `phone` is not a number.
    public func ensureUser(phone input: String) async throws -> UUID? {
        guard let phone = PhoneNumber.normalise(input) else { return nil }
        return try await database.withOwner { connection in
            try await connection.execute("INSERT INTO auth.users (phone) VALUES ($1) ON CONFLICT (phone) DO NOTHING", [phone])
            for try await id in try await connection.rows("SELECT id FROM auth.users WHERE phone = $1", [phone]).decode(UUID.self) {
                return id
            }
            return nil
        }
    }

    /// An account as support sees it: the phone masked, never whole.
    public struct Summary: Sendable, Equatable {
        public var userID: UUID
        public var maskedPhone: String?
        public var phoneConfirmed: Bool
        public var createdAt: Date
        public var lastSignInAt: Date?
        public var bannedUntil: Date?
    }

    /// The account with this id, or nil.
    public func summary(id: UUID) async throws -> Summary? {
        try await summary(where: "id = $1", id)
    }

    /// The account with this phone number (as typed at sign-in), or nil; nil too when `phone`
    /// is not a number.
    public func summary(phone input: String) async throws -> Summary? {
        guard let phone = PhoneNumber.normalise(input) else { return nil }
        return try await summary(where: "phone = $1", phone)
    }

    private func summary(where condition: String, _ value: some PostgresEncodable & Sendable) async throws -> Summary? {
        try await database.withOwner { connection in
            for try await row in try await connection.rows(
                "SELECT id, phone, phone_confirmed_at IS NOT NULL, created_at, last_sign_in_at, banned_until FROM auth.users WHERE \(condition)",
                [value]
            ).decode((UUID, String?, Bool, Date, Date?, Date?).self) {
                return Summary(
                    userID: row.0, maskedPhone: row.1.map(Self.mask), phoneConfirmed: row.2, createdAt: row.3, lastSignInAt: row.4,
                    bannedUntil: row.5)
            }
            return nil
        }
    }

    /// `+` and the first digit, stars, the last two digits: enough to confirm a number the
    /// caller reads out, never enough to call it.
    public static func mask(_ digits: String) -> String {
        guard digits.count > 4 else { return "+" + String(repeating: "*", count: digits.count) }
        return "+" + digits.prefix(1) + String(repeating: "*", count: digits.count - 3) + digits.suffix(2)
    }

    /// Suspends the account until `until` (nil lifts a suspension) on `connection`, ending its
    /// sign-in sessions so no refresh works: sign-in and refresh refuse a banned account
    /// (`user_banned`); access tokens already issued run out within their lifetime. False when
    /// there is no such account.
    public func suspend(id: UUID, until: Date?, on connection: PostgresConnection) async throws -> Bool {
        var found = false
        for try await _ in try await connection.rows(
            "UPDATE auth.users SET banned_until = $2, updated_at = now() WHERE id = $1 RETURNING 1", [id, until])
        {
            found = true
        }
        if found, until != nil {
            try await connection.execute("DELETE FROM auth.sessions WHERE user_id = $1", [id])
        }
        return found
    }
}
