import Core
import Foundation
import Realtime

/// The chat's description of a write to `messages`, `participants` or `reactions` made
/// outside the server (an operator's psql, a script): the triggers of migrations 0033, 0035
/// and 0038 log it in realtime's change log as `{"table","type","conversation_id","key"}`,
/// with the written row as `"record"` for an insert or an update (migration 0047), and each
/// instance's reader hands it back through ``ChatChangeFeed/change(logged:)`` to be
/// delivered under the chat's rules. The server announces its own writes itself.
enum ChatOutsideWrites {
    /// The change a logged description stands for; nil for anything else. A participant added
    /// or removed also changes who may see the conversation. The row travels as the change's
    /// record; a description without one (logged before migration 0047) is read on delivery.
    static func change(from payload: String) -> ChangeEnvelope? {
        guard case .object(let fields)? = try? JSONValue.parse(payload),
              case .string(let table)? = fields["table"], ChatTableChanges.watchedColumns[table] != nil,
              case .string(let operation)? = fields["type"], let type = ChangeType(rawValue: operation),
              case .string(let conversationText)? = fields["conversation_id"], let conversation = UUID(uuidString: conversationText),
              case .object(let keyFields)? = fields["key"] else { return nil }
        var key: [String: String] = [:]
        for (name, value) in keyFields {
            guard case .string(let text) = value else { return nil }
            key[name] = text
        }
        var membership: MembershipChange?
        if table == "participants", let user = key["user_id"].flatMap(UUID.init(uuidString:)) {
            switch type {
            case .insert: membership = .joined(user)
            case .delete: membership = .left(user)
            case .update: membership = nil
            }
        }
        var record: JSONValue?
        if type != .delete, case .object(let row)? = fields["record"] { record = .object(row) }
        return ChangeEnvelope(table: table, type: type, conversationID: conversation, key: key, record: record, membership: membership)
    }
}
