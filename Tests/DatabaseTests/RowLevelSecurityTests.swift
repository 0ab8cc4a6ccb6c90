import Core
import Database
import Foundation
import PostgresNIO
import Testing
import TestSupport

/// The database itself keeps users apart, even when service code forgets a WHERE clause.
@Suite struct RowLevelSecurityTests {
    /// What a refused read or write becomes for the client: 403, never a 500.
    static let permissionDenied = APIError(status: .forbidden, code: "42501", message: "permission denied")

    static func user(_ id: UUID) -> Caller {
        Caller(role: .authenticated, userID: id, claimsJSON: #"{"sub":"\#(id.uuidString.lowercased())","role":"authenticated"}"#)
    }

    /// Creates users (and through the trigger their profiles) as the owner.
    static func createUsers(_ database: Database, count: Int) async throws -> [UUID] {
        try await database.withOwner { connection in
            var ids: [UUID] = []
            for _ in 0..<count {
                let rows = try await connection.query(
                    "INSERT INTO auth.users (phone) VALUES (\(TestPhone.unique())) RETURNING id", logger: connection.logger)
                for try await id in rows.decode(UUID.self) { ids.append(id) }
            }
            return ids
        }
    }

    @Test func queryWithoutWhereSeesOnlyOwnBlocks() async throws {
        try await TestDatabase.withDatabase { database in
            let ids = try await Self.createUsers(database, count: 3)
            let (a, b, c) = (ids[0], ids[1], ids[2])
            _ = try await database.withOwner { connection in
                try await connection.query("INSERT INTO public.blocks (blocker_id, blocked_id) VALUES (\(a), \(c)), (\(b), \(c)), (\(b), \(a))", logger: connection.logger)
            }
            // "Forgot" the WHERE blocker_id = me clause.
            let seenByA: [UUID] = try await database.withCaller(Self.user(a)) { connection in
                var blockers: [UUID] = []
                for try await blocker in try await connection.query("SELECT blocker_id FROM public.blocks", logger: connection.logger).decode(UUID.self) {
                    blockers.append(blocker)
                }
                return blockers
            }
            #expect(seenByA == [a])
        }
    }

    @Test func requestRolesCannotReadAuthTables() async throws {
        try await TestDatabase.withDatabase { database in
            let ids = try await Self.createUsers(database, count: 1)
            for table in ["auth.users", "auth.sessions", "auth.refresh_tokens", "auth.one_time_codes", "auth.instance_secrets"] {
                await #expect(throws: Self.permissionDenied, "\(table) must be unreadable") {
                    try await database.withCaller(Self.user(ids[0])) { connection in
                        try await connection.query(PostgresQuery(unsafeSQL: "SELECT * FROM \(table)"), logger: connection.logger)
                    }
                }
            }
        }
    }

    @Test func usersCannotWriteOthersProfilesOrForgeFollows() async throws {
        try await TestDatabase.withDatabase { database in
            let ids = try await Self.createUsers(database, count: 2)
            let (a, b) = (ids[0], ids[1])
            let updated = try await database.withCaller(Self.user(a)) { connection in
                var count = 0
                for try await _ in try await connection.query("UPDATE public.profiles SET bio = 'pwned' WHERE id = \(b) RETURNING id", logger: connection.logger) { count += 1 }
                return count
            }
            #expect(updated == 0)
            // A follow in someone else's name is refused by the policy.
            await #expect(throws: Self.permissionDenied) {
                try await database.withCaller(Self.user(a)) { connection in
                    try await connection.query("INSERT INTO public.follows (follower_id, following_id, status) VALUES (\(b), \(a), 'accepted')", logger: connection.logger)
                }
            }
            // So is skipping the request step of a private account.
            _ = try await database.withOwner { connection in
                try await connection.query("UPDATE public.profiles SET is_private = true WHERE id = \(b)", logger: connection.logger)
            }
            await #expect(throws: Self.permissionDenied) {
                try await database.withCaller(Self.user(a)) { connection in
                    try await connection.query("INSERT INTO public.follows (follower_id, following_id, status) VALUES (\(a), \(b), 'accepted')", logger: connection.logger)
                }
            }
        }
    }

    @Test func claimsDoNotLeakToTheNextTransactionOnAConnection() async throws {
        try await TestDatabase.withDatabase { database in
            let ids = try await Self.createUsers(database, count: 1)
            // The pool may hand out the same connection; settings are transaction-local.
            for _ in 0..<20 {
                let inside = try await database.withCaller(Self.user(ids[0])) { connection in
                    try await connection.scalarText("SELECT auth.uid()::text || ' ' || current_user", [])
                }
                #expect(inside == "\(ids[0].uuidString.lowercased()) authenticated")
                let after = try await database.withOwner { connection in
                    try await connection.scalarText("SELECT coalesce(auth.uid()::text, 'none') || ' ' || current_user", [])
                }
                #expect(after?.hasPrefix("none ") == true)
                #expect(after?.hasSuffix(" authenticated") == false)
            }
        }
    }

    @Test func anonymousCallersSeeNoProfiles() async throws {
        try await TestDatabase.withDatabase { database in
            _ = try await Self.createUsers(database, count: 2)
            await #expect(throws: Self.permissionDenied) {
                try await database.withCaller(.anonymous) { connection in
                    try await connection.query("SELECT * FROM public.profiles", logger: connection.logger)
                }
            }
        }
    }
}
