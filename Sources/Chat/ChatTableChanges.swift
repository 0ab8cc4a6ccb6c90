import Core
import Database
import Foundation
import PostgresNIO
import Realtime

/// The realtime changes of rows written to chat's tables without its RPCs (through the table
/// API): which columns of a written row it needs, and the change each row announces. The
/// change carries the row as it was written, in the shape ``ChatChangeFeed`` reads (as the
/// RPCs' changes do), so realtime need not read a row that may be gone by then.
public struct ChatTableChanges: Sendable {
    /// The columns a written row of each announced table must carry: its realtime record's,
    /// except a reaction's conversation (its message's, not a column of its own).
    public static let watchedColumns: [String: [String]] = {
        var watched: [String: [String]] = [:]
        for table in ChatChangeFeed.tables where ["messages", "participants", "reactions"].contains(table.name) {
            watched[table.name] = table.columns.map(\.name).filter { table.name != "reactions" || $0 != "conversation_id" }
        }
        return watched
    }()

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
                return ChangeEnvelope(
                    table: table, type: type, conversationID: conversation, key: ["id": Self.text(id)],
                    record: Self.record(row, of: table, type))
            }
        case "participants":
            return rows.compactMap { row in
                guard let conversation = Self.uuid(row["conversation_id"]), let user = Self.uuid(row["user_id"]) else { return nil }
                return ChangeEnvelope(
                    table: table, type: type, conversationID: conversation, key: ["user_id": Self.text(user)],
                    record: Self.record(row, of: table, type))
            }
        case "reactions":
            let written = rows.compactMap { row -> (message: UUID, user: UUID, row: [String: JSONValue])? in
                guard let message = Self.uuid(row["message_id"]), let user = Self.uuid(row["user_id"]) else { return nil }
                return (message, user, row)
            }
            guard !written.isEmpty else { return [] }
            let conversations = try await conversations(of: Array(Set(written.map(\.message))))
            return written.compactMap { reaction in
                guard let conversation = conversations[reaction.message] else { return nil }
                var row = reaction.row
                row["conversation_id"] = .string(Self.text(conversation))
                return ChangeEnvelope(
                    table: table, type: type, conversationID: conversation,
                    key: ["message_id": Self.text(reaction.message), "user_id": Self.text(reaction.user)],
                    record: Self.record(row, of: table, type))
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

    /// The written row as its change's record: only the record's columns, none for a delete
    /// (its key is its old record) or a row missing one of them (then realtime reads it).
    private static func record(_ row: [String: JSONValue], of table: String, _ type: ChangeType) -> JSONValue? {
        guard type != .delete, let columns = ChatChangeFeed.tables.first(where: { $0.name == table })?.columns else { return nil }
        var record: [String: JSONValue] = [:]
        for column in columns {
            guard let value = row[column.name] else { return nil }
            record[column.name] = value
        }
        return .object(record)
    }

    private static func uuid(_ value: JSONValue?) -> UUID? {
        guard case .string(let text)? = value else { return nil }
        return UUID(uuidString: text)
    }

    private static func text(_ id: UUID) -> String { id.uuidString.lowercased() }
}
