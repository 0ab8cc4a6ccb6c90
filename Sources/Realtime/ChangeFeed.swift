import Core
import Foundation

/// What realtime needs from the module that owns the tables whose changes it publishes
/// (chat today; storage and reels later). Realtime never reads another module's tables: it
/// asks the feed, as it sends frames between instances through ``MessageBus``.
public protocol ChangeFeed: Sendable {
    /// The tables (and views of them) clients may bind `postgres_changes` to.
    var tables: [ChangeTable] { get }
    /// The current row behind a change whose publisher did not carry it, or nil when the row
    /// no longer exists.
    func record(for change: ChangeEnvelope) async throws -> [String: JSONValue]?
    /// Who may see the changes of a conversation.
    func members(of conversation: UUID) async throws -> Set<UUID>
    /// The change a description the module's own triggers wrote into the change log stands
    /// for (`public.realtime_log_feed_change`: writes made outside the server), or nil when
    /// it is not one of the module's.
    func change(logged envelope: String) -> ChangeEnvelope?
}

/// A table clients may bind to, with the columns its change events list.
public struct ChangeTable: Sendable {
    /// The name bindings use (`table` in `postgres_changes`).
    public var name: String
    /// The columns in the order change events list them, with PostgreSQL type names.
    public var columns: [(name: String, type: String)]
    /// The table whose changes it receives: itself, or the table a view is over.
    public var source: String
    /// The change types it receives (nil: all); a view may narrow them.
    public var types: Set<ChangeType>?

    public init(name: String, columns: [(name: String, type: String)], source: String? = nil, types: Set<ChangeType>? = nil) {
        self.name = name
        self.columns = columns
        self.source = source ?? name
        self.types = types
    }
}

/// What happened to a row.
public enum ChangeType: String, Sendable, Codable, CaseIterable {
    case insert = "INSERT"
    case update = "UPDATE"
    case delete = "DELETE"
}

/// The bindable tables of one instance, looked up by name.
struct ChangeCatalog: Sendable {
    private let byName: [String: ChangeTable]
    /// The change feed's table names, sorted (error messages list these, never the captured
    /// tables' names).
    let feedNames: [String]

    /// - Parameters:
    ///   - tables: the change feed's tables.
    ///   - captured: the captured tables of the publication (a feed table's name wins).
    init(_ tables: [ChangeTable], captured: [ChangeTable] = []) {
        var byName: [String: ChangeTable] = [:]
        for table in captured { byName[table.name] = table }
        for table in tables { byName[table.name] = table }
        self.byName = byName
        feedNames = tables.map(\.name).sorted()
    }

    func table(_ name: String) -> ChangeTable? { byName[name] }

    /// The views (tables over another one) that receive a change of `source` of this type.
    func views(receiving source: String, type: ChangeType) -> [String] {
        byName.values.filter { $0.name != source && $0.source == source && ($0.types?.contains(type) ?? true) }.map(\.name)
    }

    /// The columns a change event of `table` lists (by its source table's name).
    func columns(ofSource table: String) -> [(name: String, type: String)] {
        byName[table]?.columns ?? []
    }

    /// How filters compare each column of a bindable table; nil for an unknown table.
    func columnTypes(of name: String) -> [String: ColumnType]? {
        guard let table = byName[name] else { return nil }
        var types: [String: ColumnType] = [:]
        for column in table.columns {
            types[column.name] = ColumnType(postgres: column.type)
        }
        return types
    }
}
