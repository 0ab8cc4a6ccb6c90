import Core
import Database
import Foundation
import PostgresNIO

/// The moderators' side of reels, for the admin console (through the composition root's seam):
/// the review queues and the decisions. Decisions run on the caller's connection, so the admin
/// module records them in the same transaction as its audit row.
public struct ReelsModeration: Sendable {
    let database: Database
    let media: ReelMedia

    public init(database: Database) {
        self.database = database
        self.media = ReelMedia(database: database)
    }

    /// Which reels wait for a moderator.
    public enum Queue: String, Sendable, CaseIterable {
        /// Ready reels held for review (`moderation = 'pending'`), newest first.
        case pending
        /// Visible or held reels reported since the last decision on them, newest report first.
        case reported
    }

    /// One reel in a queue, with what a moderator needs to decide: caption, author, reports and
    /// signed links to its poster and video.
    public struct Item: Sendable, Encodable {
        public var reelID: String
        public var authorID: String
        public var caption: String
        public var createdAt: Date
        public var moderation: String
        public var moderationReason: String?
        public var reports: Int
        public var reportReasons: [String]
        public var lastReportAt: Date?
        public var media: ReelMediaLinks?

        enum CodingKeys: String, CodingKey {
            case reelID = "reel_id", authorID = "author_id", caption, createdAt = "created_at", moderation
            case moderationReason = "moderation_reason", reports, reportReasons = "report_reasons", lastReportAt = "last_report_at", media
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(reelID, forKey: .reelID)
            try container.encode(authorID, forKey: .authorID)
            try container.encode(caption, forKey: .caption)
            try container.encode(createdAt, forKey: .createdAt)
            try container.encode(moderation, forKey: .moderation)
            try container.encode(moderationReason, forKey: .moderationReason)
            try container.encode(reports, forKey: .reports)
            try container.encode(reportReasons, forKey: .reportReasons)
            try container.encode(lastReportAt, forKey: .lastReportAt)
            try container.encode(media, forKey: .media)
        }
    }

    /// Up to `limit` reels of `queue` older (by the queue's order) than `before`.
    public func queue(_ queue: Queue, limit: Int, before: Date?) async throws -> [Item] {
        let sql: String
        switch queue {
        case .pending:
            sql = """
                SELECT r.id, r.author_id, r.caption, r.created_at, r.moderation, r.moderation_reason, r.media_prefix,
                       (SELECT count(*) FROM reels.reports p WHERE p.reel_id = r.id),
                       coalesce((SELECT array_agg(DISTINCT p.reason ORDER BY p.reason) FROM reels.reports p WHERE p.reel_id = r.id), '{}'),
                       (SELECT max(p.created_at) FROM reels.reports p WHERE p.reel_id = r.id)
                FROM reels.reels r
                WHERE r.state = 'ready' AND r.moderation = 'pending' AND ($1::timestamptz IS NULL OR r.created_at < $1)
                ORDER BY r.created_at DESC, r.id LIMIT $2
                """
        case .reported:
            sql = """
                SELECT r.id, r.author_id, r.caption, r.created_at, r.moderation, r.moderation_reason, r.media_prefix,
                       q.reports, q.reasons, q.last_report
                FROM (SELECT p.reel_id, count(*) AS reports, array_agg(DISTINCT p.reason ORDER BY p.reason) AS reasons,
                             max(p.created_at) AS last_report
                      FROM reels.reports p JOIN reels.reels r ON r.id = p.reel_id
                      WHERE p.created_at > coalesce(r.moderated_at, '-infinity') AND r.moderation <> 'rejected'
                      GROUP BY p.reel_id) q
                JOIN reels.reels r ON r.id = q.reel_id
                WHERE $1::timestamptz IS NULL OR q.last_report < $1
                ORDER BY q.last_report DESC, r.id LIMIT $2
                """
        }
        let rows = try await database.withOwner { connection in
            var rows: [(UUID, UUID, String, Date, String, String?, String?, Int, [String], Date?)] = []
            for try await row in try await connection.rows(sql, [before, limit]).decode(
                (UUID, UUID, String, Date, String, String?, String?, Int, [String], Date?).self)
            {
                rows.append(row)
            }
            return rows
        }
        var items: [Item] = []
        for row in rows {
            items.append(
                Item(
                    reelID: row.0.uuidString.lowercased(), authorID: row.1.uuidString.lowercased(), caption: row.2, createdAt: row.3,
                    moderation: row.4, moderationReason: row.5, reports: row.7, reportReasons: row.8, lastReportAt: row.9,
                    media: try await media.links(for: row.6)))
        }
        return items
    }

    /// Approves (visible again where its visibility allows) or rejects (hidden from everyone but
    /// its author, with the reason) a ready reel, on `connection`; false when there is no such
    /// ready reel.
    public func decide(reel: UUID, approve: Bool, reason: String?, moderator: UUID, on connection: PostgresConnection) async throws -> Bool {
        for try await _ in try await connection.rows(
            """
            UPDATE reels.reels SET moderation = $2, moderation_reason = $3, moderated_at = now(), moderated_by = $4
            WHERE id = $1 AND state = 'ready' RETURNING 1
            """, [reel, approve ? "approved" : "rejected", approve ? nil : reason, moderator])
        {
            return true
        }
        return false
    }

    /// Settles a ready reel's reports (they leave the reported queue) without changing whether
    /// it is shown, on `connection`: its author, or nil when there is no such ready reel.
    public func settleReports(reel: UUID, moderator: UUID, on connection: PostgresConnection) async throws -> UUID? {
        for try await author in try await connection.rows(
            "UPDATE reels.reels SET moderated_at = now(), moderated_by = $2 WHERE id = $1 AND state = 'ready' RETURNING author_id",
            [reel, moderator]
        ).decode(UUID.self) {
            return author
        }
        return nil
    }

    /// What the admin dashboard shows of reels: `{"pending","reported","hashtags_blocked",
    /// "arbiter":{"suppressed","since","reason","updated_at"}}`.
    public func summary() async throws -> Data {
        try await database.withOwner { connection in
            try await connection.jsonText(
                """
                SELECT json_build_object(
                    'pending', (SELECT count(*) FROM reels.reels WHERE state = 'ready' AND moderation = 'pending'),
                    'reported', (SELECT count(DISTINCT p.reel_id) FROM reels.reports p JOIN reels.reels r ON r.id = p.reel_id
                                 WHERE p.created_at > coalesce(r.moderated_at, '-infinity') AND r.moderation <> 'rejected'),
                    'hashtags_blocked', (SELECT count(*) FROM reels.hashtag_blocklist),
                    'arbiter', (SELECT json_build_object('suppressed', a.suppressed, 'since', a.since, 'reason', a.reason,
                                                         'updated_at', a.updated_at)
                                FROM reels.arbiter_state a WHERE a.id = 1))::text
                """, []) ?? Data("{}".utf8)
        }
    }

    // MARK: Hashtag blocklist

    /// The blocked hashtags with why, who and when, by tag.
    public func blockedHashtags() async throws -> Data {
        try await database.withOwner { connection in
            try await connection.jsonText(
                """
                SELECT coalesce(json_agg(json_build_object('tag', tag, 'reason', reason, 'added_by', added_by, 'added_at', added_at)
                                         ORDER BY tag), '[]'::json)::text
                FROM reels.hashtag_blocklist
                """, []) ?? Data("[]".utf8)
        }
    }

    /// Blocks `tag` (as typed: an optional `#`, then one tag) on `connection`: approved reels
    /// carrying it go back to review, new ones are held, its list shows nothing. Returns the
    /// normalised tag and how many reels went back to review; nil when it was blocked already.
    public func block(hashtag text: String, reason: String, moderator: UUID, on connection: PostgresConnection) async throws -> (tag: String, held: Int)? {
        let tag = try FeedHashtag.normalise(text)
        var added = false
        for try await _ in try await connection.rows(
            "INSERT INTO reels.hashtag_blocklist (tag, reason, added_by) VALUES ($1, $2, $3) ON CONFLICT (tag) DO NOTHING RETURNING 1",
            [tag, reason, moderator])
        {
            added = true
        }
        guard added else { return nil }
        var held = 0
        for try await _ in try await connection.rows(
            """
            UPDATE reels.reels SET moderation = 'pending', moderation_reason = $2, updated_at = now()
            WHERE hashtags @> ARRAY[$1::text] AND moderation = 'approved' RETURNING 1
            """, [tag, "the hashtag #\(tag) is blocked"])
        {
            held += 1
        }
        return (tag, held)
    }

    /// Unblocks `tag` on `connection` (reels held for it stay in the review queue); the
    /// normalised tag, or nil when it was not blocked.
    public func unblock(hashtag text: String, on connection: PostgresConnection) async throws -> String? {
        let tag = try FeedHashtag.normalise(text)
        for try await _ in try await connection.rows("DELETE FROM reels.hashtag_blocklist WHERE tag = $1 RETURNING 1", [tag]) {
            return tag
        }
        return nil
    }
}
