import Core
import Database
import Foundation
import PostgresNIO
import Realtime

/// The realtime changes of rows written to chat's tables without its RPCs (through the table
/// API): which columns identify a written row, and the change each row announces. The row
/// itself is not carried: each subscribing instance reads it through ``ChatChangeFeed``, in
/// the shape the RPCs' changes have.
public struct ChatTableChanges: Sendable {
    /// The columns a written row of each announced table must carry.
    public static let keyColumns: [String: [String]] = [
        "messages": ["id", "conversation_id"],
        "participants": ["conversation_id", "user_id"],
        "reactions": ["message_id", "user_id"],
    ]

    let database: Database

    /// - Parameter database: the pool used to find a reaction's conversation (owner role).
    public init(database: Database) {
        self.database = database
    }

    /// The changes announcing `rows` written to `table`; rows without their key columns are
    /// skipped, and so are reactions whose message is gone (its deletion was announced).
    public func envelopes(table: String, type: ChangeType, rows: [[String: JSONValue]]) async throws -> [ChangeEnvelope] {
        switch table {
        case "messages":
            return rows.compactMap { row in
                guard let conversation = Self.uuid(row["conversation_id"]), let id = Self.uuid(row["id"]) else { return nil }
                return ChangeEnvelope(table: table, type: type, conversationID: conversation, key: ["id": Self.text(id)])
            }
        case "participants":
            return rows.compactMap { row in
                guard let conversation = Self.uuid(row["conversation_id"]), let user = Self.uuid(row["user_id"]) else { return nil }
                return ChangeEnvelope(table: table, type: type, conversationID: conversation, key: ["user_id": Self.text(user)])
            }
        case "reactions":
            let written = rows.compactMap { row -> (message: UUID, user: UUID)? in
                guard let message = Self.uuid(row["message_id"]), let user = Self.uuid(row["user_id"]) else { return nil }
                return (message, user)
            }
            guard !written.isEmpty else { return [] }
            let conversations = try await conversations(of: Array(Set(written.map(\.message))))
            return written.compactMap { reaction in
                guard let conversation = conversations[reaction.message] else { return nil }
                return ChangeEnvelope(
                    table: table, type: type, conversationID: conversation,
                    key: ["message_id": Self.text(reaction.message), "user_id": Self.text(reaction.user)])
            }
        default:
            return []
        }
    }

    /// The conversation of each message that still exists.
    private func conversations(of messages: [UUID]) async throws -> [UUID: UUID] {
        try await database.withStatement { connection in
            var found: [UUID: UUID] = [:]
            let rows = try await connection.rows(
                "SELECT id, conversation_id FROM public.messages WHERE id = ANY($1)", [messages]
            ).decode((UUID, UUID).self)
            for try await (message, conversation) in rows { found[message] = conversation }
            return found
        }
    }

    private static func uuid(_ value: JSONValue?) -> UUID? {
        guard case .string(let text)? = value else { return nil }
        return UUID(uuidString: text)
    }

    private static func text(_ id: UUID) -> String { id.uuidString.lowercased() }
}
