import Core
import Database
import Foundation
import PostgresNIO

extension ChatService {
    /// A page of the caller's conversations by last activity, newest first. A DM appears to
    /// the user who did not open it only once it has a message; previews, unread counts and
    /// the pin skip messages the caller hid.
    func inbox(_ caller: Caller, cursor: KeysetCursor?, limit: Int) async throws -> Data {
        let me = try caller.requireUser()
        return try await database.withCaller(caller) { connection in
            var values: [(any PostgresEncodable & Sendable)?] = [me, limit + 1]
            let keyset = Page.after(cursor, time: "c.last_message_at", id: "c.id", values: &values)
            let rows = try await connection.rows("""
                SELECT jsonb_build_object(
                    'conversation_id', c.id, 'kind', c.kind, 'title', c.title, 'avatar_url', c.avatar_url,
                    'last_seq', c.last_seq, 'last_message_at', c.last_message_at, 'role', p.role,
                    'read_up_to_seq', p.read_up_to_seq, 'delivered_up_to_seq', p.delivered_up_to_seq,
                    'muted', coalesce(p.muted_until > now(), false), 'muted_until', p.muted_until,
                    'last_message', (SELECT jsonb_build_object('id', m.id, 'sender_id', m.sender_id, 'seq', m.seq, 'kind', m.kind,
                                         'body', left(m.body, 200), 'attachment', m.attachment - 'waveform', 'call', m.call,
                                         'deleted', m.deleted_at IS NOT NULL, 'created_at', m.created_at)
                                     FROM public.messages m
                                     WHERE m.conversation_id = c.id AND m.seq <= c.last_seq
                                       AND NOT EXISTS (SELECT 1 FROM public.hidden_messages h WHERE h.user_id = $1 AND h.message_id = m.id)
                                     ORDER BY m.seq DESC LIMIT 1),
                    'unread_count', (SELECT count(*) FROM public.messages m
                                     WHERE m.conversation_id = c.id AND m.seq > p.read_up_to_seq
                                       AND m.sender_id <> $1 AND m.deleted_at IS NULL
                                       AND NOT EXISTS (SELECT 1 FROM public.hidden_messages h WHERE h.user_id = $1 AND h.message_id = m.id)),
                    'pinned_message', CASE WHEN c.pinned_message_id IS NOT NULL THEN public.chat_pinned_json(c.pinned_message_id) END,
                    'participants', coalesce((SELECT jsonb_agg(\(ChatSQL.profileJSON("pr")) || jsonb_build_object(
                                                  'role', q.role, 'read_up_to_seq', q.read_up_to_seq,
                                                  'delivered_up_to_seq', q.delivered_up_to_seq) ORDER BY pr.username)
                                              FROM public.participants q JOIN public.profiles pr ON pr.id = q.user_id
                                              WHERE q.conversation_id = c.id AND q.user_id <> $1), '[]'::jsonb)
                )::text, c.last_message_at::text, c.id
                FROM public.participants p JOIN public.conversations c ON c.id = p.conversation_id
                WHERE p.user_id = $1 AND (c.kind <> 'dm' OR c.created_by = $1 OR c.last_seq > 0) \(keyset)
                ORDER BY c.last_message_at DESC, c.id DESC
                LIMIT $2
                """, values)
            return try await Page.collect(rows, limit: limit, cursors: cursors)
        }
    }
}
