import Core

/// Told of the rows each committed table-API write touched, so the module that owns a table
/// can announce the change (chat's realtime events for `messages`). The table API never
/// knows what the rows mean; the observer names the columns it needs.
public protocol TableWriteObserver: Sendable {
    /// The columns the observer needs from each written row of `table`, or nil when it does not
    /// watch the table.
    func watchedColumns(of table: String) -> [String]?
    /// Called once the write's transaction has committed.
    func committed(_ write: TableWrite) async
}

/// One committed write through the table API.
public struct TableWrite: Sendable {
    public enum Kind: String, Sendable { case insert, update, delete }

    public var table: String
    public var kind: Kind
    /// The watched columns of each row written (for a delete: as it was).
    public var rows: [[String: JSONValue]]
}
