import Core
import Database
import Foundation
import PostgresNIO

/// A column of an exposed table, as the catalog describes it.
public struct ColumnInfo: Sendable, Equatable {
    public var name: String
    /// The type without its modifier (`character varying`, `int8`, `jsonb`), for casts of operands.
    public var type: String
    /// The default expression (`nextval(…)`, `now()`), used by `Prefer: missing=default`.
    public var defaultExpression: String?
    /// An identity or generated column: never written by a payload's missing keys.
    public var isGenerated: Bool
    /// The roles granted `SELECT` on it (`anon`, `authenticated`): what `*` stands for.
    public var readableBy: Set<Caller.Role>

    var isJSON: Bool { type == "json" || type == "jsonb" }
}

/// A foreign key between two exposed tables.
public struct ForeignKey: Sendable, Equatable {
    public var name: String
    public var table: String
    public var columns: [String]
    public var referencedTable: String
    public var referencedColumns: [String]
}

/// A table (or view) the `anon` or `authenticated` role has any privilege on in `public`.
public struct TableSchema: Sendable {
    public var name: String
    /// In the table's column order.
    public var columns: [ColumnInfo]
    public var primaryKey: [String]
    /// The roles that may insert (any column), update (any column) and delete.
    public var inserters: Set<Caller.Role> = []
    public var updaters: Set<Caller.Role> = []
    public var deleters: Set<Caller.Role> = []

    public func column(_ name: String) -> ColumnInfo? {
        columns.first { $0.name == name }
    }

    /// The columns `*` stands for: those `role` may read (every column for `service_role`).
    public func readableColumns(by role: Caller.Role) -> [ColumnInfo] {
        role == .serviceRole ? columns : columns.filter { $0.readableBy.contains(role) }
    }
}

/// Which tables the API exposes: those of `public` that `anon` or `authenticated` is granted
/// anything on (row-level security then decides the rows). Read from the catalog at the
/// first request, again once a minute, and at once (at most every second) when a request
/// names a table it does not know, so a table an operator just created and granted appears
/// without a restart.
public actor SchemaCache {
    struct Snapshot: Sendable {
        var tables: [String: TableSchema]
        var foreignKeys: [ForeignKey]
        var loadedAt: ContinuousClock.Instant
    }

    private let database: Database
    private var snapshot: Snapshot?
    private let maximumAge: Duration = .seconds(60)
    private let missRetry: Duration = .seconds(1)

    public init(database: Database) {
        self.database = database
    }

    /// The exposed table `name`, or nil.
    public func table(_ name: String) async throws -> TableSchema? {
        try await lookup(name)?.table
    }

    /// The exposed table `name` with every exposed table and the foreign keys between them,
    /// all from one reading of the catalogue (what a request's statement is written from).
    func lookup(_ name: String) async throws -> (table: TableSchema, tables: [String: TableSchema], foreignKeys: [ForeignKey])? {
        var current = try await fresh()
        if current.tables[name] == nil, ContinuousClock.now - current.loadedAt >= missRetry {
            current = try await reload()
        }
        guard let table = current.tables[name] else { return nil }
        return (table, current.tables, current.foreignKeys)
    }

    /// Every exposed table, by name.
    public func tables() async throws -> [String: TableSchema] {
        try await fresh().tables
    }

    private func fresh() async throws -> Snapshot {
        if let snapshot, ContinuousClock.now - snapshot.loadedAt < maximumAge { return snapshot }
        return try await reload()
    }

    private func reload() async throws -> Snapshot {
        let loaded = try await Self.load(database)
        snapshot = loaded
        return loaded
    }

    private static func load(_ database: Database) async throws -> Snapshot {
        try await database.withOwner { connection in
            var tables: [String: TableSchema] = [:]
            let columnRows = try await connection.query("""
                SELECT c.relname::text, a.attname::text, format_type(a.atttypid, NULL),
                       pg_get_expr(d.adbin, d.adrelid),
                       (a.attidentity <> '' OR a.attgenerated <> ''),
                       coalesce(array_position(pk.conkey, a.attnum), 0)::int8,
                       has_column_privilege('anon', c.oid, a.attnum, 'SELECT'),
                       has_column_privilege('authenticated', c.oid, a.attnum, 'SELECT'),
                       ARRAY[has_any_column_privilege('anon', c.oid, 'INSERT'), has_any_column_privilege('authenticated', c.oid, 'INSERT'),
                             has_any_column_privilege('anon', c.oid, 'UPDATE'), has_any_column_privilege('authenticated', c.oid, 'UPDATE'),
                             has_table_privilege('anon', c.oid, 'DELETE'), has_table_privilege('authenticated', c.oid, 'DELETE')]
                FROM pg_class c
                JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
                JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
                LEFT JOIN pg_constraint pk ON pk.conrelid = c.oid AND pk.contype = 'p'
                WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
                  AND (has_any_column_privilege('anon', c.oid, 'SELECT, INSERT, UPDATE')
                    OR has_any_column_privilege('authenticated', c.oid, 'SELECT, INSERT, UPDATE')
                    OR has_table_privilege('anon', c.oid, 'DELETE')
                    OR has_table_privilege('authenticated', c.oid, 'DELETE'))
                ORDER BY c.relname, a.attnum
                """, logger: database.logger)
            var keyPositions: [String: [(Int, String)]] = [:]
            for try await (table, column, type, defaultExpression, generated, keyPosition, anon, authenticated, writes)
                in columnRows.decode((String, String, String, String?, Bool, Int, Bool, Bool, [Bool]).self) {
                func roles(_ anon: Bool, _ authenticated: Bool) -> Set<Caller.Role> {
                    Set((anon ? [.anon] : []) + (authenticated ? [.authenticated] : []))
                }
                var schema = tables[table] ?? TableSchema(name: table, columns: [], primaryKey: [])
                schema.columns.append(ColumnInfo(
                    name: column, type: type, defaultExpression: defaultExpression, isGenerated: generated, readableBy: roles(anon, authenticated)))
                if writes.count == 6 {
                    schema.inserters = roles(writes[0], writes[1])
                    schema.updaters = roles(writes[2], writes[3])
                    schema.deleters = roles(writes[4], writes[5])
                }
                tables[table] = schema
                if keyPosition > 0 { keyPositions[table, default: []].append((keyPosition, column)) }
            }
            for (table, positions) in keyPositions {
                tables[table]?.primaryKey = positions.sorted { $0.0 < $1.0 }.map(\.1)
            }
            let keyRows = try await connection.query("""
                SELECT con.conname::text, child.relname::text, parent.relname::text,
                       ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(n, i)
                             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n ORDER BY k.i),
                       ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY k(n, i)
                             JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n ORDER BY k.i)
                FROM pg_constraint con
                JOIN pg_class child ON child.oid = con.conrelid
                JOIN pg_class parent ON parent.oid = con.confrelid
                WHERE con.contype = 'f'
                  AND child.relnamespace = 'public'::regnamespace AND parent.relnamespace = 'public'::regnamespace
                ORDER BY con.conname
                """, logger: database.logger)
            var foreignKeys: [ForeignKey] = []
            for try await (name, table, parent, columns, parentColumns) in keyRows.decode((String, String, String, [String], [String]).self)
            where tables[table] != nil && tables[parent] != nil {
                foreignKeys.append(ForeignKey(name: name, table: table, columns: columns, referencedTable: parent, referencedColumns: parentColumns))
            }
            return Snapshot(tables: tables, foreignKeys: foreignKeys, loadedAt: .now)
        }
    }
}
