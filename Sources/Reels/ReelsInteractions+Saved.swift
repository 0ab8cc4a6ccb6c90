import Core
import Database
import Foundation
import PostgresNIO

/// The caller's saved reels.
extension ReelsInteractions {
    /// A page of the reels the caller saved, newest save first, skipping those they may no
    /// longer see: `{"reels": [record…], "next": cursor|null}` (``ReelRecord``: `reels.record` with the
    /// media links of ready reels).
    func savedReels(_ caller: Caller, _ page: InteractionArguments.SavedPage) async throws -> Data {
        let cursor = try await cursors.decode(page.before, field: "before")
        let (rows, last) = try await asViewer(caller) { connection, me in
            var values: [(any PostgresEncodable & Sendable)?] = [me, page.limit + 1]
            let keyset = Page.after(cursor, time: "s.created_at", id: "s.reel_id", values: &values)
            let rows = try await connection.query(PostgresQuery(unsafeSQL: """
                SELECT \(ReelRecord.columns("r")), s.created_at::text, s.reel_id
                FROM reels.saves s JOIN reels.reels r ON r.id = s.reel_id
                WHERE s.user_id = $1 AND reels.can_view(r.author_id, r.visibility, r.state, r.moderation) \(keyset)
                ORDER BY s.created_at DESC, s.reel_id DESC
                LIMIT $2
                """, binds: try PostgresBindings(values)), logger: database.logger)
            var records: [ReelRecord.Row] = []
            var positions: [KeysetCursor] = []
            for try await (record, prefix, state, moderation, savedAt, reel) in rows.decode((String, String?, String, String, String, UUID).self) {
                records.append((record, prefix, state, moderation))
                positions.append(KeysetCursor(timestamp: savedAt, id: reel))
            }
            // The extra row only proves there is a next page, which starts after the last shown.
            let more = records.count > page.limit
            return (Array(records.prefix(page.limit)), more ? positions[page.limit - 1] : nil)
        }
        // Media links after the transaction: signing may first load the key (a connection of its own).
        var records: [String] = []
        for row in rows { records.append(try await ReelRecord.json(row, media: media)) }
        var next = "null"
        if let last { next = "\"\(try await cursors.encode(last))\"" }
        return Data("{\"reels\":[\(records.joined(separator: ","))],\"next\":\(next)}".utf8)
    }
}
