import Chat
import Realtime
import Tables

/// The table API's write seam (``TableWriteObserver``) over chat's realtime changes: a message
/// inserted with `POST /rest/v1/messages` reaches the other members' `postgres_changes`
/// subscriptions as one sent with `send_message_v1` does. The one place that knows both.
struct ChatTableWritesAdapter: TableWriteObserver {
    let publisher: any ChangePublisher

    func watchedColumns(of table: String) -> [String]? {
        ChatTableChanges.keyColumns[table]
    }

    func committed(_ write: TableWrite) async {
        let type: ChangeType = switch write.kind {
        case .insert: .insert
        case .update: .update
        case .delete: .delete
        }
        let changes = ChatTableChanges.envelopes(table: write.table, type: type, rows: write.rows)
        if !changes.isEmpty { await publisher.publish(changes) }
    }
}
