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
    func react(_ caller: Caller, _ kind: Reaction, reel: UUID, on: Bool) async throws -> Data {
        try await asViewer(caller) { connection, me in
            _ = try await requireVisible(connection, reel)
            let sql = on
                ? "INSERT INTO \(kind.table) (reel_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING"
                : "DELETE FROM \(kind.table) WHERE reel_id = $1 AND user_id = $2"
            try await connection.execute(sql, [reel, me])
            let count = try await counter(connection, kind.counter, reel)
            return try Self.object([kind.key: .bool(on), "count": .number(Double(count))])
        }
    }
}
