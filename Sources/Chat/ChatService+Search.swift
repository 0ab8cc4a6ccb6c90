import Core
import Database
import Foundation
import PostgresNIO

extension ChatService {
    /// Messages the caller can read that match a query (Russian and English stemming),
    /// newest first: `{"results":[{id, conversation_id, seq, sender_id, kind, body,
    /// created_at, headline}], "next": cursor|null}`. Runs as the caller under row-level
    /// security (`public.chat_search_messages`, migration 0017): current memberships only,
    /// no deleted messages, none the caller hid.
    func search(_ caller: Caller, _ request: SearchRequest) async throws -> Data {
        _ = try caller.requireUser()
        let cursor = try await cursors.decode(request.before, field: "before")
        return try await database.withCaller(caller) { connection in
            if let conversation = request.conversation,
                try await !connection.exists("SELECT 1 WHERE public.is_chat_member($1)", [conversation])
            {
                throw APIError.notFound("conversation_id: no such conversation")
            }
            let rows = try await connection.rows("""
                SELECT jsonb_build_object('id', s.id, 'conversation_id', s.conversation_id, 'seq', s.seq, 'sender_id', s.sender_id,
                           'kind', s.kind, 'body', s.body, 'created_at', s.created_at, 'headline', s.headline)::text,
                       s.created_at::text, s.id
                FROM public.chat_search_messages($1::text, $2::uuid, $3::timestamptz, $4::uuid, $5::integer) s
                ORDER BY s.created_at DESC, s.id DESC
                """, [request.query, request.conversation, cursor?.timestamp, cursor?.id, request.limit + 1])
            var results: [String] = []
            var last: KeysetCursor?
            for try await (item, timestamp, id) in rows.decode((String, String, UUID).self) {
                if results.count == request.limit, let last {
                    return Self.searchPage(results, next: try await cursors.encode(last))
                }
                results.append(item)
                last = KeysetCursor(timestamp: timestamp, id: id)
            }
            return Self.searchPage(results, next: nil)
        }
    }

    static func searchPage(_ results: [String], next: String?) -> Data {
        let cursor = next.map { "\"\($0)\"" } ?? "null"
        return Data("{\"results\":[\(results.joined(separator: ","))],\"next\":\(cursor)}".utf8)
    }
}
