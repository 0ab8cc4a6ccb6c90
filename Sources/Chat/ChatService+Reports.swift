import Core
import Database
import Foundation
import PostgresNIO
import Realtime

/// Reports of messages: members file them (`report_message`), moderators work through the
/// open ones from the admin console (through the composition root's seam) and decide.
extension ChatService {
    /// Reports a message the caller can see (`public.chat_report_message`, migration 0029);
    /// reporting it again replaces the report. Returns `{"reported": true}`.
    func report(_ caller: Caller, message: UUID, _ report: ContentReport) async throws -> Data {
        _ = try caller.requireUser()
        return try await database.withCaller(caller) { connection in
            guard
                let json = try await connection.jsonText(
                    "SELECT public.chat_report_message($1, $2, $3)::text", [message, report.reason.rawValue, report.details])
            else { throw APIError.notFound("message_id: no such message") }
            return json
        }
    }

    /// Up to `limit` messages with open reports, the most recently reported first, reported
    /// before `before`: a JSON array of `{message_id, conversation_id, sender_id, kind, body,
    /// attachment, created_at, deleted, reports, report_reasons, report_details,
    /// last_report_at}`. Reporters are not named.
    public func reportedMessages(limit: Int, before: Date?) async throws -> Data {
        try await database.withOwner { connection in
            try await connection.jsonText(
                """
                SELECT coalesce(json_agg(json_build_object(
                    'message_id', m.id, 'conversation_id', m.conversation_id, 'sender_id', m.sender_id, 'kind', m.kind,
                    'body', m.body, 'attachment', m.attachment, 'created_at', m.created_at, 'deleted', m.deleted_at IS NOT NULL,
                    'reports', q.reports, 'report_reasons', q.reasons, 'report_details', q.details, 'last_report_at', q.last_report)
                    ORDER BY q.last_report DESC, m.id), '[]'::json)::text
                FROM (\(OpenReports.page(table: "public.message_reports", key: "message_id"))) q
                JOIN public.messages m ON m.id = q.message_id
                """, [before, limit]) ?? Data("[]".utf8)
        }
    }

    /// How many messages have open reports.
    public func reportedMessageCount() async throws -> Int {
        try await database.withOwner { connection in
            for try await count in try await connection.rows(
                OpenReports.count(table: "public.message_reports", key: "message_id"), []
            ).decode(Int.self) {
                return count
            }
            return 0
        }
    }

    /// A moderator's decision on a message, on `connection` (the admin's transaction): its open
    /// reports are resolved and, with `remove`, the message becomes a tombstone for everyone.
    /// Nil when there is no such message; otherwise its sender and what to announce once the
    /// transaction has committed.
    public func moderate(message: UUID, remove: Bool, on connection: PostgresConnection) async throws -> ModeratedContent? {
        var sender: UUID?
        var change: ChangeEnvelope?
        if remove {
            for try await (id, conversation, author, record) in try await connection.rows(
                """
                UPDATE public.messages m SET deleted_at = now() WHERE m.id = $1 AND m.deleted_at IS NULL
                RETURNING m.id, m.conversation_id, m.sender_id, public.chat_message_record(m)::text
                """, [message]
            ).decode((UUID, UUID, UUID, String).self) {
                sender = author
                change = ChangeEnvelope(
                    table: "messages", type: .update, conversationID: conversation, key: ["id": id.uuidString.lowercased()],
                    record: try? JSONValue.parse(record))
            }
        }
        if sender == nil {
            for try await author in try await connection.rows("SELECT sender_id FROM public.messages WHERE id = $1", [message]).decode(UUID.self) {
                sender = author
            }
        }
        guard let sender else { return nil }
        try await connection.execute(OpenReports.resolve(table: "public.message_reports", key: "message_id"), [message])
        let removal = change
        return ModeratedContent(author: sender) { [self] in
            if let removal { await announce([removal]) }
        }
    }
}
