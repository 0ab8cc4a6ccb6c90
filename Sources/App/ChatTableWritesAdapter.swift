import Chat
import Logging
import Realtime
import Tables

/// The table API's write seam (``TableWriteObserver``) over chat's realtime changes: a message
/// inserted with `POST /rest/v1/messages` (or a reaction, a participant's cursor) reaches the
/// other members' `postgres_changes` subscriptions as one written by chat's RPCs does. The one
/// place that knows both.
struct ChatTableWritesAdapter: TableWriteObserver {
    let changes: ChatTableChanges
    let publisher: any ChangePublisher
    let logger: Logger

    func watchedColumns(of table: String) -> [String]? {
        ChatTableChanges.watchedColumns[table]
    }

    func committed(_ write: TableWrite) async {
        let type: ChangeType = switch write.kind {
        case .insert: .insert
        case .update: .update
        case .delete: .delete
        }
        do {
            let envelopes = try await changes.envelopes(table: write.table, type: type, rows: write.rows)
            if !envelopes.isEmpty { await publisher.publish(envelopes) }
        } catch {
            // The write has committed; only its announcement is lost (subscribers catch up on resync).
            logger.error("a table write's realtime change could not be announced", metadata: ["table": "\(write.table)", "error": "\(error)"])
        }
    }
}
