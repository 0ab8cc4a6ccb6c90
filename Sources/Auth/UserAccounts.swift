import Core
import Database
import Foundation

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
}
