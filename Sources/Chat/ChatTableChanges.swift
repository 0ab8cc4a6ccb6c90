import Core
import Foundation
import Realtime

/// The realtime changes of rows written to chat's tables without its RPCs (through the table
/// API): which columns identify a written row, and the change each row announces. The row
/// itself is not carried: each subscribing instance reads it through ``ChatChangeFeed``, in
/// the shape the RPCs' changes have.
public enum ChatTableChanges {
    /// The columns a written row of each announced table must carry.
    public static let keyColumns: [String: [String]] = [
        "messages": ["id", "conversation_id"],
        "participants": ["conversation_id", "user_id"],
    ]

    /// The changes announcing `rows` written to `table`; rows without their key columns are skipped.
    public static func envelopes(table: String, type: ChangeType, rows: [[String: JSONValue]]) -> [ChangeEnvelope] {
        rows.compactMap { row -> ChangeEnvelope? in
            guard case .string(let conversationText)? = row["conversation_id"], let conversation = UUID(uuidString: conversationText) else {
                return nil
            }
            switch table {
            case "messages":
                guard case .string(let id)? = row["id"] else { return nil }
                return ChangeEnvelope(table: table, type: type, conversationID: conversation, key: ["id": id])
            case "participants":
                guard case .string(let user)? = row["user_id"] else { return nil }
                return ChangeEnvelope(table: table, type: type, conversationID: conversation, key: ["user_id": user])
            default:
                return nil
            }
        }
    }
}
