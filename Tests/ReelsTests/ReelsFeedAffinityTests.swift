import Core
import Database
import Foundation
@testable import Reels
import Testing
import TestSupport

/// The viewer's affinity to authors (`reels.feed_affinity`, migrations 0023 and 0043): each
/// kind of event counts toward the reel's author, as recorded on the event when it was written.
@Suite struct ReelsFeedAffinityTests {
    typealias F = ReelsFeedFixture

    @Test func eachKindOfEventCountsTowardTheReelsAuthorUpToItsSaturation() async throws {
        try await TestDatabase.withDatabase { db in
            let viewer = try await ReelsFixture.user(db)
            var authors: [String: Caller] = [:]
            for kind in ["follow", "likes", "comments", "saves", "shares", "views", "old", "own"] {
                authors[kind] = kind == "own" ? viewer : try await ReelsFixture.user(db)
            }
            func reel(_ kind: String) async throws -> UUID { try await F.reel(db, author: try #require(authors[kind])) }
            try await ReelsFixture.follow(db, viewer, try #require(authors["follow"]))
            let liked = try await reel("likes")
            let commented = try await reel("comments")
            let saved = try await reel("saves")
            let shared = try await reel("shares")
            let viewed = try await reel("views")
            let viewedLongAgo = try await reel("old")
            let own = try await reel("own")
            try await db.withOwner { connection in
                try await connection.execute("INSERT INTO reels.likes (reel_id, user_id) VALUES ($1, $2)", [liked, viewer.userID])
                try await connection.execute(
                    "INSERT INTO reels.comments (reel_id, author_id, body) SELECT $1, $2, 'nice' FROM generate_series(1, 2)",
                    [commented, viewer.userID])
                try await connection.execute("INSERT INTO reels.saves (reel_id, user_id) VALUES ($1, $2)", [saved, viewer.userID])
                try await connection.execute("INSERT INTO reels.shares (reel_id, user_id) VALUES ($1, $2)", [shared, viewer.userID])
                // Seven views saturate at five; views of the viewer's own reel and views older
                // than 90 days do not count.
                try await connection.execute(
                    "INSERT INTO reels.views (reel_id, user_id, watched_ms) SELECT $1, $2, 1000 FROM generate_series(1, 7)", [viewed, viewer.userID])
                try await connection.execute("INSERT INTO reels.views (reel_id, user_id, watched_ms) VALUES ($1, $2, 1000)", [own, viewer.userID])
                try await connection.execute(
                    "INSERT INTO reels.views (reel_id, user_id, watched_ms, created_at) VALUES ($1, $2, 1000, now() - interval '91 days')",
                    [viewedLongAgo, viewer.userID])
            }
            let affinity = try await db.withOwner { connection in
                var values: [UUID: Double] = [:]
                for try await (author, value) in try await connection.rows(
                    "SELECT a.author_id, a.affinity FROM reels.feed_affinity($1, (SELECT c.body FROM reels.active_feed_config() c)) a",
                    [viewer.userID]
                ).decode((UUID, Double).self) {
                    values[author] = value
                }
                return values
            }
            // Default weights: follow 0.4, likes 0.15, comments 0.15, saves 0.1, shares 0.1,
            // views 0.1; each count over a saturation of 5.
            let expected: [String: Double] = [
                "follow": 0.4, "likes": 0.15 / 5, "comments": 0.15 * 2 / 5, "saves": 0.1 / 5, "shares": 0.1 / 5, "views": 0.1,
            ]
            #expect(affinity.count == expected.count)
            for (kind, value) in expected {
                let author = try #require(authors[kind]?.userID)
                #expect(abs((affinity[author] ?? -1) - value) < 1e-9, "\(kind)")
            }
        }
    }

    @Test func anEventRecordsTheReelsAuthorWhenItIsWritten() async throws {
        try await TestDatabase.withDatabase { db in
            let viewer = try await ReelsFixture.user(db)
            let author = try await ReelsFixture.user(db)
            let reel = try await F.reel(db, author: author)
            try await F.mark(db, "likes", viewer, reel)
            try await F.mark(db, "saves", viewer, reel)
            let recorded = try await db.withOwner { connection in
                var authors: [UUID?] = []
                for try await value in try await connection.rows(
                    """
                    SELECT reel_author_id FROM reels.likes WHERE reel_id = $1
                    UNION ALL SELECT reel_author_id FROM reels.saves WHERE reel_id = $1
                    """, [reel]
                ).decode(UUID?.self) {
                    authors.append(value)
                }
                return authors
            }
            #expect(recorded == [author.userID, author.userID])
        }
    }
}
