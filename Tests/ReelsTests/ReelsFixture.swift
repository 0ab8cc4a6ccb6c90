import Core
import Database
import Foundation
import TestSupport
import Testing

/// Users, follows, blocks and reels written directly in the database for the reels tests
/// (sign-in and the social graph have their own tests).
enum ReelsFixture {
    /// Expects `call` to be refused with 429 `rate_limited` naming `allowance` (the
    /// per-action limits of interactions and feed sessions).
    static func expectLimited(_ allowance: String, _ call: () async throws -> Void) async {
        do {
            try await call()
            Issue.record("not limited: \(allowance)")
        } catch let error as APIError {
            #expect(error.status == .tooManyRequests && error.code == "rate_limited", "\(error)")
            #expect(error.message.hasPrefix("You can \(allowance); retry in "), "\(error.message)")
            #expect((error.retryAfterSeconds ?? 0) >= 1)
        } catch {
            Issue.record("unexpected \(String(reflecting: error))")
        }
    }

    static func caller(_ id: UUID) -> Caller {
        Caller(role: .authenticated, userID: id, claimsJSON: #"{"sub":"\#(id.uuidString.lowercased())","role":"authenticated"}"#)
    }

    /// Creates a user (a private account when asked) and returns their caller.
    static func user(_ database: Database, isPrivate: Bool = false) async throws -> Caller {
        let id = try await database.withOwner { connection in
            let phone = TestPhone.unique()
            var created: UUID?
            for try await id in try await connection.rows("INSERT INTO auth.users (phone) VALUES ($1) RETURNING id", [phone]).decode(UUID.self) {
                created = id
            }
            guard let created else { throw FixtureError("no user created") }
            try await connection.execute("UPDATE public.profiles SET is_private = $2 WHERE id = $1", [created, isPrivate])
            return created
        }
        return caller(id)
    }

    static func follow(_ database: Database, _ follower: Caller, _ followee: Caller, status: String = "accepted") async throws {
        try await database.withOwner { connection in
            try await connection.execute(
                "INSERT INTO public.follows (follower_id, following_id, status) VALUES ($1, $2, $3)",
                [follower.userID, followee.userID, status])
        }
    }

    static func block(_ database: Database, _ blocker: Caller, _ blocked: Caller) async throws {
        try await database.withOwner { connection in
            try await connection.execute("INSERT INTO public.blocks (blocker_id, blocked_id) VALUES ($1, $2)", [blocker.userID, blocked.userID])
        }
    }

    /// Inserts a reel as the owner would once processed; returns its id.
    static func reel(
        _ database: Database, author: Caller, visibility: String = "public", state: String = "ready", moderation: String = "approved",
        caption: String = "", hashtags: [String] = [], createdAt: Date = Date()
    ) async throws -> UUID {
        try await database.withOwner { connection in
            var created: UUID?
            for try await id in try await connection.rows(
                """
                INSERT INTO reels.reels (author_id, visibility, state, moderation, caption, hashtags, original_path, created_at)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id
                """,
                [author.userID, visibility, state, moderation, caption, hashtags, "\(author.userID?.uuidString.lowercased() ?? "x")/original.mp4", createdAt]
            ).decode(UUID.self) {
                created = id
            }
            guard let created else { throw FixtureError("no reel created") }
            return created
        }
    }

    /// The reel ids `viewer` can read from `reels.reels` under row-level security.
    static func visibleReels(_ database: Database, _ viewer: Caller) async throws -> Set<UUID> {
        try await database.withCaller(viewer) { connection in
            var ids: Set<UUID> = []
            for try await id in try await connection.rows("SELECT id FROM reels.reels", []).decode(UUID.self) {
                ids.insert(id)
            }
            return ids
        }
    }
}

struct FixtureError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
