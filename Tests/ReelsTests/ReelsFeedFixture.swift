import Core
import Database
import Foundation
import Logging
@testable import Reels

/// Generated data and page reading for the feed tests.
enum ReelsFeedFixture {
    static func feed(_ database: Database) -> ReelsFeed {
        ReelsFeed(database: database, logger: Logger(label: "feed-tests"))
    }

    /// A reel as the owner writes it once processed (like ``ReelsFixture/reel``, but each with
    /// its own original: migration 0021 allows one reel per original).
    static func reel(
        _ database: Database, author: Caller, visibility: String = "public", state: String = "ready", moderation: String = "approved",
        hashtags: [String] = [], createdAt: Date = Date()
    ) async throws -> UUID {
        try await database.withOwner { connection in
            var created: UUID?
            for try await id in try await connection.rows(
                """
                INSERT INTO reels.reels (author_id, visibility, state, moderation, hashtags, original_path, created_at)
                VALUES ($1, $2, $3, $4, $5, $1::text || '/' || gen_random_uuid() || '.mp4', $6) RETURNING id
                """, [author.userID, visibility, state, moderation, hashtags, createdAt]
            ).decode(UUID.self) {
                created = id
            }
            guard let created else { throw FixtureError("no reel created") }
            return created
        }
    }

    /// One page of a list RPC, decoded.
    struct Page {
        var ids: [UUID]
        var authors: [UUID]
        var next: String?
        var mode: String?
    }

    static func page(_ data: Data) throws -> Page {
        guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any],
            let reels = object["reels"] as? [[String: Any]]
        else { throw FixtureError("not a page: \(String(decoding: data, as: UTF8.self))") }
        var ids: [UUID] = []
        var authors: [UUID] = []
        for reel in reels {
            guard let id = (reel["id"] as? String).flatMap(UUID.init(uuidString:)),
                let author = ((reel["author"] as? [String: Any])?["id"] as? String).flatMap(UUID.init(uuidString:))
            else { throw FixtureError("reel without id or author: \(reel)") }
            ids.append(id)
            authors.append(author)
        }
        return Page(ids: ids, authors: authors, next: object["next"] as? String, mode: object["mode"] as? String)
    }

    static func feedPage(_ feed: ReelsFeed, _ viewer: Caller, limit: Int = 10, cursor: String? = nil) async throws -> Page {
        try page(try await feed.feed(viewer, limit: limit, cursor: cursor))
    }

    /// Every page of the viewer's feed until `next` is null (at most `maximumPages`).
    static func allPages(_ feed: ReelsFeed, _ viewer: Caller, limit: Int, maximumPages: Int = 50) async throws -> [Page] {
        var pages: [Page] = []
        var cursor: String?
        repeat {
            let page = try await feedPage(feed, viewer, limit: limit, cursor: cursor)
            pages.append(page)
            cursor = page.next
        } while cursor != nil && pages.count < maximumPages
        return pages
    }

    /// Sets a reel's counters (what the interaction triggers keep) directly.
    static func counts(_ database: Database, _ reel: UUID, views: Int = 0, likes: Int = 0, comments: Int = 0, saves: Int = 0, shares: Int = 0)
        async throws
    {
        try await database.withOwner { connection in
            try await connection.execute(
                """
                UPDATE reels.reels SET view_count = $2, like_count = $3, comment_count = $4, save_count = $5, share_count = $6
                WHERE id = $1
                """, [reel, views, likes, comments, saves, shares])
        }
    }

    /// One author with `count` well-liked reels (500 views, 90 likes) and `others` reels of as
    /// many other authors with one like each; returns the prolific author.
    static func prolificAuthor(_ database: Database, reels count: Int, others: Int) async throws -> Caller {
        let prolific = try await ReelsFixture.user(database)
        for _ in 0..<count {
            try await counts(database, try await reel(database, author: prolific), views: 500, likes: 90)
        }
        for _ in 0..<others {
            try await counts(database, try await reel(database, author: try await ReelsFixture.user(database)), views: 500, likes: 1)
        }
        return prolific
    }

    /// Writes one row of a viewer's interaction table (`hidden`, `not_interested`, `likes`, …).
    static func mark(_ database: Database, _ table: String, _ viewer: Caller, _ reel: UUID) async throws {
        try await database.withOwner { connection in
            if table == "reports" {
                try await connection.execute("INSERT INTO reels.reports (reel_id, user_id, reason) VALUES ($1, $2, 'spam')", [reel, viewer.userID])
            } else {
                try await connection.execute("INSERT INTO reels.\(table) (reel_id, user_id) VALUES ($1, $2)", [reel, viewer.userID])
            }
        }
    }

    static func impressions(_ database: Database, _ viewer: Caller, _ reel: UUID, count: Int) async throws {
        try await database.withOwner { connection in
            try await connection.execute(
                "INSERT INTO reels.impressions (reel_id, user_id) SELECT $1, $2 FROM generate_series(1, $3)", [reel, viewer.userID, count])
        }
    }

    /// What the arbiter writes when it suppresses or clears the personalised feed.
    static func suppress(_ database: Database, _ suppressed: Bool) async throws {
        try await database.withOwner { connection in
            try await connection.execute("UPDATE reels.arbiter_state SET suppressed = $1, since = now(), updated_at = now()", [suppressed])
        }
    }

    /// Activates `body` (validated first, as the CLI does); returns the version.
    static func activate(_ database: Database, _ body: String) async throws -> Int {
        let validated = try FeedConfig.validate(Data(body.utf8))
        let text = validated.config.body.jsonText
        return try await database.withOwner { connection in
            var version = 0
            for try await value in try await connection.rows("SELECT reels.activate_feed_config($1::jsonb)", [text]).decode(Int.self) {
                version = value
            }
            return version
        }
    }

    /// The seeded default config with some fields replaced (JSON text of numbers).
    static func config(_ overrides: [String: String] = [:]) -> String {
        var fields: [String: String] = [
            "engagement_weights": #"{"views": 0.0303, "likes": 0.1212, "comments": 0.1818, "saves": 0.3030, "shares": 0.3637}"#,
            "recency_days": "3", "affinity_weight": "0.3",
            "affinity_weights": #"{"follow": 0.4, "likes": 0.15, "comments": 0.15, "saves": 0.1, "shares": 0.1, "views": 0.1}"#,
            "affinity_saturation": "5", "cold_boost": "0.5", "cold_views": "100", "candidate_days": "90",
            "exploration_share": "0.2", "max_per_author": "3", "impression_cap": "2", "impression_window_hours": "24",
            "session_size": "300",
        ]
        fields.merge(overrides) { $1 }
        return "{" + fields.sorted { $0.key < $1.key }.map { "\"\($0.key)\": \($0.value)" }.joined(separator: ", ") + "}"
    }
}
