import Core
import Database
import Foundation
import PostgresNIO
import Realtime

/// The chat tables realtime clients may bind to, and the reads realtime needs of them: a
/// change's row when its publisher did not carry it, and a conversation's members.
public struct ChatChangeFeed: ChangeFeed {
    let database: Database

    /// - Parameter database: the pool realtime's reads use (owner role: realtime decides
    ///   visibility itself, by membership).
    public init(database: Database) {
        self.database = database
    }

    static let participantColumns: [(name: String, type: String)] = [
        ("conversation_id", "uuid"), ("user_id", "uuid"), ("role", "text"), ("joined_at", "timestamptz"),
        ("delivered_up_to_seq", "int8"), ("read_up_to_seq", "int8"), ("updated_at", "timestamptz"),
    ]

    /// `messages` (columns as `public.chat_message_record` builds them), `reactions`,
    /// `participants`, and `cursors`: the read-receipt view of participants (their updates).
    public static let tables: [ChangeTable] = [
        ChangeTable(name: "messages", columns: [
            ("id", "uuid"), ("conversation_id", "uuid"), ("sender_id", "uuid"), ("seq", "int8"), ("client_msg_id", "uuid"),
            ("kind", "text"), ("body", "text"), ("attachment", "jsonb"), ("reply_to_id", "uuid"), ("edited_at", "timestamptz"),
            ("deleted_at", "timestamptz"), ("created_at", "timestamptz"), ("updated_at", "timestamptz"),
            ("call", "jsonb"), ("forwarded_from", "jsonb"),
        ]),
        ChangeTable(name: "reactions", columns: [
            ("message_id", "uuid"), ("user_id", "uuid"), ("conversation_id", "uuid"), ("emoji", "text"),
            ("created_at", "timestamptz"), ("updated_at", "timestamptz"),
        ]),
        ChangeTable(name: "participants", columns: participantColumns),
        ChangeTable(name: "cursors", columns: participantColumns, source: "participants", types: [.update]),
    ]

    public var tables: [ChangeTable] { Self.tables }

    public func record(for change: ChangeEnvelope) async throws -> [String: JSONValue]? {
        let sql: String
        let values: [(any PostgresEncodable & Sendable)?]
        switch change.table {
        case "messages":
            sql = "SELECT public.chat_message_record(m)::text FROM public.messages m WHERE m.id = $1"
            values = [change.key["id"].flatMap(UUID.init(uuidString:))]
        case "reactions":
            sql = """
                SELECT \(ChatSQL.reactionRecord("r", conversation: "m.conversation_id"))::text
                FROM public.reactions r JOIN public.messages m ON m.id = r.message_id
                WHERE r.message_id = $1 AND r.user_id = $2
                """
            values = [change.key["message_id"].flatMap(UUID.init(uuidString:)), change.key["user_id"].flatMap(UUID.init(uuidString:))]
        case "participants":
            sql = """
                SELECT \(ChatSQL.participantRecord("p"))::text
                FROM public.participants p WHERE p.conversation_id = $1 AND p.user_id = $2
                """
            values = [change.conversationID, change.key["user_id"].flatMap(UUID.init(uuidString:))]
        default:
            return nil
        }
        let text = try await database.withStatement { connection in try await connection.scalarText(sql, values) }
        return text.flatMap { try? JSONValue.parse($0).objectValue }
    }

    public func change(logged envelope: String) -> ChangeEnvelope? {
        ChatOutsideWrites.change(from: envelope)
    }

    public func members(of conversation: UUID) async throws -> Set<UUID> {
        try await database.withStatement { connection in
            var users = Set<UUID>()
            for try await user in try await connection.rows("SELECT user_id FROM public.participants WHERE conversation_id = $1", [conversation]).decode(UUID.self) {
                users.insert(user)
            }
            return users
        }
    }
}
