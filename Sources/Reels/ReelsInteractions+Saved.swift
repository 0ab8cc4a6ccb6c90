import Core
import Database
import Foundation
import PostgresNIO

/// The caller's saved reels.
extension ReelsInteractions {
    /// A page of the reels the caller saved, newest save first, skipping those they may no
    /// longer see: `{"reels": [record…], "next": cursor|null}` (records of `reels.record`).
    func savedReels(_ caller: Caller, _ page: InteractionArguments.SavedPage) async throws -> Data {
        let cursor = try await cursors.decode(page.before, field: "before")
        return try await asViewer(caller) { connection, me in
            var values: [(any PostgresEncodable & Sendable)?] = [me, page.limit + 1]
            let keyset = Page.after(cursor, time: "s.created_at", id: "s.reel_id", values: &values)
            let rows = try await connection.query(PostgresQuery(unsafeSQL: """
                SELECT reels.record(r)::text, s.created_at::text, s.reel_id
                FROM reels.saves s JOIN reels.reels r ON r.id = s.reel_id
                WHERE s.user_id = $1 AND reels.can_view(r.author_id, r.visibility, r.state, r.moderation) \(keyset)
                ORDER BY s.created_at DESC, s.reel_id DESC
                LIMIT $2
                """, binds: try PostgresBindings(values)), logger: database.logger)
            return try await self.page(rows, key: "reels", limit: page.limit)
        }
    }
}
