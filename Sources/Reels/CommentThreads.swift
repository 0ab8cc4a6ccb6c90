import Core
import Database
import Foundation
import PostgresNIO

/// Comments on reels, threaded one level: a top comment and its replies (a reply to a reply is
/// attached to the top comment, migration 0020). A reader sees the comments of a reel they may
/// see, except those of anyone blocked either way and the replies under a top comment of such
/// an author (the whole thread is out of their sight; migration 0025).
extension ReelsInteractions {
    /// A comment as the RPCs show it to the current user (`c` a comment, `r` its reel):
    /// id, reel, parent (null for a top comment), the author's card, body, time, the number
    /// of replies the user may see (top comments) and whether the user may delete it (its
    /// author or the reel's author).
    static let commentJSON = """
        jsonb_build_object('id', c.id, 'reel_id', c.reel_id, 'parent_id', c.parent_id,
            'author', public.profile_card(c.author_id), 'body', c.body, 'created_at', c.created_at,
            'reply_count', CASE WHEN c.parent_id IS NULL THEN (
                SELECT count(*) FROM reels.comments x
                WHERE x.parent_id = c.id AND NOT public.is_blocked_between(auth.uid(), x.author_id)) ELSE 0 END,
            'can_delete', c.author_id = auth.uid() OR r.author_id = auth.uid())
        """

    /// Comments on a reel the caller may see, or replies to a top comment of it:
    /// `{"comment": {...}, "count": n}` with the reel's comment count after it.
    func addComment(_ caller: Caller, _ comment: InteractionArguments.Comment) async throws -> Data {
        try await asViewer(caller) { connection, me in
            _ = try await requireVisible(connection, comment.reel)
            if let parent = comment.replyTo {
                // The comment replied to and the top comment of its thread (where the reply
                // lands): a block either way with either author makes the thread unseen.
                guard try await connection.exists("""
                    SELECT 1 FROM reels.comments c LEFT JOIN reels.comments top ON top.id = c.parent_id
                    WHERE c.id = $1 AND c.reel_id = $2 AND NOT public.is_blocked_between($3, c.author_id)
                      AND (top.id IS NULL OR NOT public.is_blocked_between($3, top.author_id))
                    """, [parent, comment.reel, me])
                else { throw APIError.notFound("reply_to: no such comment on this reel") }
            }
            let added = try await connection.rows(
                "INSERT INTO reels.comments (reel_id, author_id, parent_id, body) VALUES ($1, $2, $3, $4) RETURNING id",
                [comment.reel, me, comment.replyTo, comment.body])
            var id: UUID?
            for try await value in added.decode(UUID.self) { id = value }
            // A statement of its own: the counter trigger's update is visible to it.
            let rows = try await connection.rows("""
                SELECT jsonb_build_object('comment', \(Self.commentJSON), 'count', r.comment_count)::text
                FROM reels.comments c JOIN reels.reels r ON r.id = c.reel_id
                WHERE c.id = $1
                """, [id])
            for try await text in rows.decode(String.self) { return Data(text.utf8) }
            throw Self.reelNotFound
        }
    }

    /// A page of a reel's top comments, newest first, or with `parent` the replies to that top
    /// comment, oldest first: `{"comments": [...], "next": cursor|null}`.
    func comments(_ caller: Caller, _ page: InteractionArguments.CommentsPage) async throws -> Data {
        let cursor = try await cursors.decode(page.before, field: "before")
        return try await asViewer(caller) { connection, me in
            _ = try await requireVisible(connection, page.reel, forWrite: false)
            var values: [(any PostgresEncodable & Sendable)?] = [page.reel, me, page.limit + 1]
            let thread: String
            let keyset: String
            let order: String
            if let parent = page.parent {
                guard try await connection.exists("""
                    SELECT 1 FROM reels.comments c
                    WHERE c.id = $1 AND c.reel_id = $2 AND c.parent_id IS NULL AND NOT public.is_blocked_between($3, c.author_id)
                    """, [parent, page.reel, me])
                else { throw APIError.notFound("parent_id: no such top comment on this reel") }
                values.append(parent)
                thread = "c.parent_id = $\(values.count)"
                if let cursor {
                    values += [cursor.timestamp, cursor.id]
                    keyset = "AND (c.created_at, c.id) > ($\(values.count - 1)::timestamptz, $\(values.count)::uuid)"
                } else {
                    keyset = ""
                }
                order = "c.created_at, c.id"
            } else {
                thread = "c.parent_id IS NULL"
                keyset = Page.after(cursor, time: "c.created_at", id: "c.id", values: &values)
                order = "c.created_at DESC, c.id DESC"
            }
            let rows = try await connection.query(PostgresQuery(unsafeSQL: """
                SELECT (\(Self.commentJSON))::text, c.created_at::text, c.id
                FROM reels.comments c JOIN reels.reels r ON r.id = c.reel_id
                WHERE c.reel_id = $1 AND \(thread) AND NOT public.is_blocked_between($2, c.author_id) \(keyset)
                ORDER BY \(order)
                LIMIT $3
                """, binds: try PostgresBindings(values)), logger: database.logger)
            return try await self.page(rows, key: "comments", limit: page.limit)
        }
    }

    /// Deletes a comment (with its replies) as its author or the reel's author:
    /// `{"deleted": true, "count": n}` with the reel's comment count after it. A comment the
    /// caller cannot see is 404; one they see but may not delete is 403.
    func deleteComment(_ caller: Caller, _ comment: UUID) async throws -> Data {
        try await asViewer(caller) { connection, me in
            let rows = try await connection.rows("""
                SELECT c.reel_id, c.author_id = $2 OR r.author_id = $2,
                       c.author_id = $2 OR (reels.can_view(r.author_id, r.visibility, r.state, r.moderation)
                                            AND NOT public.is_blocked_between($2, c.author_id)
                                            AND (top.id IS NULL OR NOT public.is_blocked_between($2, top.author_id)))
                FROM reels.comments c JOIN reels.reels r ON r.id = c.reel_id
                LEFT JOIN reels.comments top ON top.id = c.parent_id
                WHERE c.id = $1
                FOR UPDATE OF c
                """, [comment, me])
            var found: (reel: UUID, mayDelete: Bool, visible: Bool)?
            for try await row in rows.decode((UUID, Bool, Bool).self) { found = row }
            guard let found, found.visible else { throw APIError.notFound("comment not found") }
            guard found.mayDelete else { throw APIError.forbidden("only the comment's author or the reel's author may delete it") }
            try await connection.execute("DELETE FROM reels.comments WHERE id = $1", [comment])
            let count = try await counter(connection, "comment_count", found.reel)
            return try Self.object(["deleted": .bool(true), "count": .number(Double(count))])
        }
    }
}
