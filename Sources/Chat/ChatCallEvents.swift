import Calls
import Core
import Database
import Foundation
import Realtime

/// The chat's side of the calls seam: a finished 1:1 call becomes a message of kind `call`
/// in its DM, from the caller, with `call: {outcome, video, duration_s, caller_id}`
/// (`public.chat_record_call`, migration 0017), announced like any new message. Nothing is
/// written unless the conversation is the DM of exactly the caller and the callee, and
/// nothing twice for one call.
public struct ChatCallEvents: CallEventRecorder {
    let chat: ChatService

    public init(chat: ChatService) {
        self.chat = chat
    }

    public func record(_ event: CallEvent) async throws {
        let text = try await chat.database.withStatement { connection in
            try await connection.scalarText(
                "SELECT public.chat_record_call($1, $2, $3, $4, $5, $6, $7::integer)::text",
                [event.callID, event.conversationID, event.callerID, event.calleeID, event.video, event.outcome.rawValue,
                 event.durationSeconds])
        }
        guard let text, case .object(let record) = try JSONValue.parse(text), case .string(let id)? = record["id"] else { return }
        await chat.announce([ChangeEnvelope(
            table: "messages", type: .insert, conversationID: event.conversationID, key: ["id": id], record: .object(record))])
    }
}
