import Core
import Database
import Foundation
import PostgresNIO

/// Realtime's own tables for the published tables' changes (migration 0036): the capture
/// triggers, the change log and each instance's position in it, and the per-subscriber
/// row-level-security check. Every read and write of those tables goes through here.
struct ChangeLog: Sendable {
    /// The owner-role pool (the visibility check switches to each subscriber's role itself).
    let database: Database

    /// Where an instance has read the log up to (see migration 0036).
    struct Position: Sendable, Equatable {
        /// Every change of a transaction older than this one has been read...
        var horizon: String
        /// ...and of this transaction itself, the changes up to this id.
        var lastID: Int64
    }

    /// One page of the log past a position, and the position after it.
    struct Page: Sendable {
        var changes: [CapturedChange]
        var next: Position
    }

    /// Puts the capture trigger on the published tables (except `exempt`), takes it off the
    /// others; returns each published table with what became of it.
    func sync(exempt: [String]) async throws -> [(table: String, status: String)] {
        try await database.withStatement { connection in
            var result: [(table: String, status: String)] = []
            let rows = try await connection.rows("SELECT table_name, status FROM public.realtime_sync_capture($1)", [exempt])
            for try await (table, status) in rows.decode((String, String).self) { result.append((table, status)) }
            return result
        }
    }

    /// The captured tables: each table carrying the capture trigger, its columns (PostgreSQL
    /// type names, as change events list them), those the `authenticated` role may read, its
    /// primary key and replica identity.
    func capturedTables() async throws -> [CapturedTable] {
        try await database.withStatement { connection in
            let rows = try await connection.rows(
                """
                SELECT c.relname::text, a.attname::text, t.typname::text, has_column_privilege('authenticated', c.oid, a.attnum, 'SELECT'),
                    c.relreplident::text,
                    EXISTS (SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid AND i.indisprimary AND a.attnum = ANY (i.indkey)),
                    EXISTS (SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid AND i.indisreplident AND a.attnum = ANY (i.indkey))
                FROM pg_catalog.pg_trigger tg
                JOIN pg_catalog.pg_class c ON c.oid = tg.tgrelid
                JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
                JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
                WHERE tg.tgname = 'realtime_capture'
                ORDER BY c.relname, a.attnum
                """, [])
            var tables: [CapturedTable] = []
            for try await (table, column, type, readable, identity, inKey, inIdentity) in rows.decode((String, String, String, Bool, String, Bool, Bool).self) {
                if tables.last?.name != table {
                    tables.append(CapturedTable(name: table, columns: [], readable: [], identity: .init(rawValue: identity) ?? .default))
                }
                let last = tables.count - 1
                tables[last].columns.append((column, type))
                if readable { tables[last].readable.insert(column) }
                if inKey { tables[last].keyColumns.append(column) }
                if inIdentity { tables[last].identityColumns.append(column) }
            }
            return tables
        }
    }

    /// The position an instance saved, if any.
    func savedPosition(of instance: String) async throws -> Position? {
        try await database.withStatement { connection in
            let rows = try await connection.rows(
                "SELECT horizon::text, last_id FROM public.realtime_positions WHERE instance = $1", [instance])
            for try await (horizon, lastID) in rows.decode((String, Int64).self) { return Position(horizon: horizon, lastID: lastID) }
            return nil
        }
    }

    /// The position of a reader starting now: past every change already committed.
    func currentPosition() async throws -> Position {
        let horizon = try await database.withStatement { connection in
            try await connection.scalarText("SELECT public.realtime_horizon()::text", [])
        }
        return Position(horizon: horizon ?? "0", lastID: 0)
    }

    /// Saves an instance's position.
    func save(_ position: Position, of instance: String) async throws {
        try await database.withStatement { connection in
            try await connection.execute(
                """
                INSERT INTO public.realtime_positions (instance, horizon, last_id, updated_at) VALUES ($1, $2::text::xid8, $3, now())
                ON CONFLICT (instance) DO UPDATE SET horizon = excluded.horizon, last_id = excluded.last_id, updated_at = now()
                """, [instance, position.horizon, position.lastID])
        }
    }

    /// Whether changes past a position are waiting (committed or not).
    func hasChanges(after position: Position) async throws -> Bool {
        try await database.withStatement { connection in
            try await connection.exists(
                "SELECT 1 FROM public.realtime_changes WHERE (xid, id) > ($1::text::xid8, $2) LIMIT 1",
                [position.horizon, position.lastID])
        }
    }

    /// Up to `limit` changes past a position, of transactions that have all finished (older
    /// than the oldest one of this database still running, `public.realtime_horizon`), in
    /// transaction then id order; and the position
    /// after them. A transaction still running holds back every later one, so a change that
    /// commits late is never passed over. The horizon is taken once (a materialised CTE: as a
    /// subquery it was folded into the scan and computed again for every row), and the
    /// position is one row comparison, which the `(xid, id)` index answers directly. The
    /// horizon used is never older than the position's own transaction: the estimate can dip
    /// (a transaction of another database that ends between the function's snapshot and its
    /// look at `pg_stat_activity` counts as this one's), and going back would read changes again.
    func page(after position: Position, limit: Int) async throws -> Page {
        try await database.withStatement { connection in
            let rows = try await connection.rows(
                """
                WITH h AS MATERIALIZED (SELECT greatest(public.realtime_horizon(), $1::text::xid8) AS horizon)
                SELECT h.horizon::text, c.id, c.xid::text, c.table_name, c.type, c.record::text, c.old_record::text, c.committed_at, c.envelope::text, c.replica_identity::text
                FROM h
                LEFT JOIN LATERAL (
                    SELECT * FROM public.realtime_changes r
                    WHERE (r.xid, r.id) > ($1::text::xid8, $2) AND r.xid < h.horizon
                    ORDER BY r.xid, r.id LIMIT $3
                ) c ON true
                """, [position.horizon, position.lastID, limit])
            var horizon = position.horizon
            var changes: [CapturedChange] = []
            var last: Position?
            var count = 0
            for try await row in rows.decode((String, Int64?, String?, String?, String?, String?, String?, Date?, String?, String?).self) {
                horizon = row.0
                guard let id = row.1, let xid = row.2, let table = row.3, let typeText = row.4, let committed = row.7 else { continue }
                last = Position(horizon: xid, lastID: id)
                count += 1
                guard let type = ChangeType(rawValue: typeText) else { continue }
                changes.append(CapturedChange(
                    id: id, xid: xid, table: table, type: type, record: row.5.flatMap(Self.object), recordJSON: row.5,
                    oldRow: row.6.flatMap(Self.object), identity: row.9.flatMap(CapturedTable.ReplicaIdentity.init(rawValue:)),
                    committedAt: committed, envelope: row.8))
            }
            // A full page may stop inside a transaction: go on from its last change.
            if let last, count >= limit { return Page(changes: changes, next: last) }
            // The horizon is an estimate that can dip below one read before (see
            // `realtime_horizon`); a position never moves back, or changes would come twice.
            if horizon == position.horizon { return Page(changes: changes, next: position) }
            return Page(changes: changes, next: Position(horizon: horizon, lastID: 0))
        }
    }

    /// Which of `rows` (each as the log wrote it: no number rounded) each of `claims` (each
    /// subscriber's verified JWT claims) may read now, by index: evaluated as each subscriber
    /// under the table's row-level security, in one statement.
    func visible(table: String, rows: [String], claims: [String]) async throws -> Set<VisibleRow> {
        try await database.withStatement { connection in
            let result = try await connection.rows(
                """
                SELECT claim_index, row_index
                FROM public.realtime_visible_rows(format('public.%I', $1::text)::regclass, $2::text[]::jsonb[], $3::text[]::jsonb[])
                """, [table, rows, claims])
            var visible = Set<VisibleRow>()
            for try await (claim, row) in result.decode((Int32, Int32).self) {
                visible.insert(VisibleRow(claim: Int(claim) - 1, row: Int(row) - 1))
            }
            return visible
        }
    }

    /// A row a subscriber may read: indexes into the claims and rows asked about.
    struct VisibleRow: Hashable, Sendable {
        var claim: Int
        var row: Int
    }

    /// Deletes the positions of instances not seen for `retention` (they died), then the
    /// changes older than `retention` that no instance still needs: of transactions older than
    /// every saved position's horizon and than the oldest transaction still running. Returns
    /// how many changes went.
    func prune(olderThan retention: Duration) async throws -> Int {
        try await database.withStatement { connection in
            let seconds = Double(retention.components.seconds)
            try await connection.execute(
                "DELETE FROM public.realtime_positions WHERE updated_at < now() - make_interval(secs => $1)", [seconds])
            let deleted = try await connection.scalarText(
                """
                WITH needed AS (
                    SELECT least(
                        (SELECT min(horizon) FROM public.realtime_positions), public.realtime_horizon()) AS horizon
                ), gone AS (
                    DELETE FROM public.realtime_changes c USING needed
                    WHERE c.committed_at < now() - make_interval(secs => $1) AND c.xid < needed.horizon
                    RETURNING 1
                )
                SELECT count(*)::text FROM gone
                """, [seconds])
            return deleted.flatMap { Int($0) } ?? 0
        }
    }

    private static func object(_ text: String) -> [String: JSONValue]? {
        try? JSONValue.parse(text).objectValue
    }
}
