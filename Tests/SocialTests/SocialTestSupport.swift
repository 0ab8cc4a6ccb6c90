import Core
import Database
import Foundation
import TestSupport
@testable import Social

/// Users created directly in the database (sign-in is tested in AuthTests).
enum SocialFixture {
    static func caller(_ id: UUID) -> Caller {
        Caller(role: .authenticated, userID: id, claimsJSON: #"{"sub":"\#(id.uuidString.lowercased())","role":"authenticated"}"#)
    }

    /// Creates a user with a username and returns their caller.
    static func user(_ database: Database, _ username: String, isPrivate: Bool = false) async throws -> Caller {
        let id = try await database.withOwner { connection in
            var created: UUID?
            let phone = TestPhone.unique()
            for try await id in try await connection.rows("INSERT INTO auth.users (phone) VALUES ($1) RETURNING id", [phone]).decode(UUID.self) {
                created = id
            }
            try await connection.execute(
                "UPDATE public.profiles SET username = $2, display_name = $3, is_private = $4 WHERE id = $1",
                [created!, username, username.capitalized, isPrivate])
            return created!
        }
        return caller(id)
    }

    static func json(_ data: Data) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
    }

    static func array(_ data: Data) throws -> [[String: Any]] {
        try JSONSerialization.jsonObject(with: data) as? [[String: Any]] ?? []
    }
}
