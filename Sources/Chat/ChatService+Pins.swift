import Core
import Database
import Foundation
import PostgresNIO

extension ChatService {
    /// Pins a message in its conversation, replacing the previous pin: any member of a DM,
    /// owners and admins of a group (`public.chat_pin_message`, migration 0017). Returns
    /// `{conversation_id, pinned_message: {id, seq, kind, body, sender_id}}`.
    func pin(_ caller: Caller, message: UUID) async throws -> Data {
        try await callFeature(caller, "SELECT public.chat_pin_message($1)::text", message, missing: "message_id: no such message")
    }

    /// Removes a conversation's pin (idempotent). Returns `{conversation_id, pinned_message: null}`.
    func unpin(_ caller: Caller, conversation: UUID) async throws -> Data {
        try await callFeature(
            caller, "SELECT public.chat_unpin_message($1)::text", conversation, missing: "conversation_id: no such conversation")
    }

    /// Hides a message for the caller only ("delete for me"; idempotent): history, inbox
    /// previews, pins and search skip it for them. Returns `{message_id, conversation_id, hidden}`.
    func hide(_ caller: Caller, message: UUID) async throws -> Data {
        try await callFeature(caller, "SELECT public.chat_hide_message($1)::text", message, missing: "message_id: no such message")
    }

    /// Runs one of migration 0017's checked functions as the signed-in caller and answers its
    /// JSON; a NULL answer is a 404 with `missing`.
    private func callFeature(_ caller: Caller, _ sql: String, _ id: UUID, missing: String) async throws -> Data {
        _ = try caller.requireUser()
        return try await database.withCaller(caller) { connection in
            guard let json = try await connection.jsonText(sql, [id]) else { throw APIError.notFound(missing) }
            return json
        }
    }
}
