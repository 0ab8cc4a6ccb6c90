import Core
import Foundation

/// A table of the `supabase_realtime` publication whose writes the database captures into the
/// change log (migration 0036).
struct CapturedTable: Sendable {
    /// How `old_record` is given (PostgreSQL's `relreplident`).
    enum ReplicaIdentity: String, Sendable {
        /// The primary key.
        case `default` = "d"
        /// The whole row.
        case full = "f"
        /// The columns of the replica-identity index.
        case index = "i"
        /// Nothing.
        case nothing = "n"
    }

    var name: String
    /// Its columns in order, with PostgreSQL type names.
    var columns: [(name: String, type: String)]
    /// The columns the `authenticated` role may read: a change shows subscribers only these.
    var readable: Set<String>
    var keyColumns: [String] = []
    var identity: ReplicaIdentity = .default
    /// The replica-identity index's columns (identity `index`).
    var identityColumns: [String] = []

    /// What clients may bind and filter: the readable columns only.
    var changeTable: ChangeTable { ChangeTable(name: name, columns: columns.filter { readable.contains($0.name) }) }

    /// A row with only the columns subscribers may read.
    func readableOnly(_ row: [String: JSONValue]) -> [String: JSONValue] {
        guard readable.count < columns.count else { return row }
        return row.filter { readable.contains($0.key) }
    }

    /// A row's primary key.
    func key(of row: [String: JSONValue]) -> [String: JSONValue] {
        row.filter { keyColumns.contains($0.key) }
    }

    /// What an UPDATE's `old_record` holds of the row before it, per the replica identity
    /// (the table's now, unless the change says which it was written under).
    func identityOf(_ old: [String: JSONValue], writtenUnder written: ReplicaIdentity? = nil) -> [String: JSONValue] {
        switch written ?? identity {
        case .full: old
        case .default: key(of: old)
        case .index: old.filter { identityColumns.contains($0.key) }
        case .nothing: [:]
        }
    }
}

/// One change as the log holds it: of a captured table, or described by the change feed's
/// module (`envelope`, for the feed to read).
struct CapturedChange: Sendable, Equatable {
    var id: Int64
    /// The writing transaction (xid8 as text): with `id`, the log position just past it.
    var xid: String
    var table: String
    var type: ChangeType
    /// The row after the change; nil for DELETE.
    var record: [String: JSONValue]?
    /// `record` as the log wrote it (exact: `record` holds numbers as doubles): how each
    /// subscriber's right to read the row is checked.
    var recordJSON: String?
    /// The whole row before it (UPDATE, DELETE).
    var oldRow: [String: JSONValue]?
    /// An UPDATE's table's replica identity when it was written.
    var identity: CapturedTable.ReplicaIdentity? = nil
    var committedAt: Date
    /// The feed module's description of its change (``ChangeFeed/change(logged:)``); nil for
    /// a captured table's change.
    var envelope: String? = nil
}

extension PreparedChange {
    /// A captured change prepared for the subscribers allowed to read it. A DELETE's
    /// `old_record` holds only the primary key, whatever the replica identity: the row is
    /// gone, so who may read it cannot be checked (as Supabase Realtime does with RLS on).
    init(captured change: CapturedChange, table: CapturedTable) {
        let columns = table.columns.filter { table.readable.contains($0.name) }
            .map { JSONValue.object(["name": .string($0.name), "type": .string($0.type)]) }
        var data: [String: JSONValue] = [
            "schema": .string("public"), "table": .string(change.table), "type": .string(change.type.rawValue),
            "commit_timestamp": .string(Self.commitTimestamp(change.committedAt)), "errors": .null, "columns": .array(columns),
        ]
        let record = change.record.map(table.readableOnly)
        let old = change.oldRow ?? [:]
        let oldRecord = table.readableOnly(change.type == .delete ? table.key(of: old) : table.identityOf(old, writtenUnder: change.identity))
        if change.type != .delete { data["record"] = .object(record ?? [:]) }
        if change.type != .insert { data["old_record"] = .object(oldRecord) }
        let text = JSONValue.object(data).jsonText
        self.init(
            table: change.table, type: change.type, visible: change.type == .delete ? oldRecord : (record ?? [:]), forSender: text,
            forOthers: text, asView: [:], senderID: nil)
    }
}
