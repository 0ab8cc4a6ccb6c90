import Core
import Database
import Foundation
import PostgresNIO

/// Likes and saves: one per user and reel (the table's primary key), idempotent both ways.
extension ReelsInteractions {
    /// Which of the two per-user reactions.
    enum Reaction: Sendable {
        case like, save

        var table: String { self == .like ? "reels.likes" : "reels.saves" }
        var counter: String { self == .like ? "like_count" : "save_count" }
        /// The answer's key: `liked` / `saved`.
        var key: String { self == .like ? "liked" : "saved" }
    }

    /// Likes or saves (`on`) or takes it back; answers `{"liked"|"saved": on, "count": n}` with
    /// the reel's counter after the change.
    ///
    /// Liking or saving needs a reel the caller may see (404 otherwise). Taking one's own like
    /// or save back does not: it is removed (the counter follows in the trigger) even from a
    /// reel that has since become private, unapproved or blocked. For a reel the caller may not
    /// see the answer is `{"liked"|"saved": false, "count": null}` whether a row was removed,
    /// none existed or the reel does not exist, so it tells nothing about the reel.
    func react(_ caller: Caller, _ kind: Reaction, reel: UUID, on: Bool) async throws -> Data {
        try await asViewer(caller) { connection, me in
            if on {
                _ = try await requireVisible(connection, reel)
                try await connection.execute(
                    "INSERT INTO \(kind.table) (reel_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING", [reel, me])
            } else {
                try await connection.execute("DELETE FROM \(kind.table) WHERE reel_id = $1 AND user_id = $2", [reel, me])
                guard try await connection.exists("""
                    SELECT 1 FROM reels.reels r
                    WHERE r.id = $1 AND reels.can_view(r.author_id, r.visibility, r.state, r.moderation)
                    """, [reel])
                else { return try Self.object([kind.key: .bool(false), "count": .null]) }
            }
            let count = try await counter(connection, kind.counter, reel)
            return try Self.object([kind.key: .bool(on), "count": .number(Double(count))])
        }
    }
}
