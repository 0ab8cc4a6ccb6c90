import Core
import Database
import Foundation
import PostgresNIO
@testable import Realtime
import Testing
import TestSupport

/// The published tables' change log (migration 0036) read as ``ChangeLog`` reads it, on a real
/// database: capture, replica identities, commit-safe order, pages and the per-subscriber check.
@Suite struct ChangeLogTests {
    /// A published, captured table of notes readable by their owner only; the log's reader.
    private static func publishedNotes(_ database: Database) async throws -> ChangeLog {
        try await database.withOwner { connection in
            try await Self.run(connection, [
                "CREATE TABLE public.notes (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, owner uuid, body text, secret text)",
                "ALTER TABLE public.notes ENABLE ROW LEVEL SECURITY",
                "CREATE POLICY own ON public.notes FOR SELECT TO authenticated USING (owner = auth.uid())",
                "GRANT SELECT (id, owner, body) ON public.notes TO authenticated",
                "ALTER PUBLICATION supabase_realtime ADD TABLE public.notes",
            ])
        }
        let log = ChangeLog(database: database)
        let statuses = try await log.sync(exempt: [])
        #expect(statuses.map(\.table) == ["notes"] && statuses.map(\.status) == ["captured"])
        return log
    }

    private static func run(_ connection: PostgresConnection, _ statements: [String]) async throws {
        for statement in statements { try await connection.execute(statement, []) }
    }

    private static func bodies(_ changes: [CapturedChange]) -> [String] {
        changes.compactMap { if case .string(let body)? = $0.record?["body"] { body } else { nil } }
    }

    /// Pages through the log from `position` until `count` changes were read, as the reader
    /// does: a page may come back empty while any transaction of the cluster older than the
    /// changes still runs (tests run in parallel on one cluster). Returns the changes, each
    /// page's size and the position after them.
    private static func read(
        _ log: ChangeLog, after position: ChangeLog.Position, count: Int, limit: Int = 100
    ) async throws -> (changes: [CapturedChange], pages: [Int], next: ChangeLog.Position) {
        var position = position
        var changes: [CapturedChange] = []
        var pages: [Int] = []
        let deadline = ContinuousClock.now + .seconds(20)
        while changes.count < count, ContinuousClock.now < deadline {
            let page = try await log.page(after: position, limit: limit)
            position = page.next
            if page.changes.isEmpty {
                try await Task.sleep(for: .milliseconds(20))
                continue
            }
            changes += page.changes
            pages.append(page.changes.count)
        }
        return (changes, pages, position)
    }

    @Test func aTransactionThatCommitsLateWithASmallerIDIsNotPassedOver() async throws {
        try await TestDatabase.withDatabase { database in
            let log = try await Self.publishedNotes(database)
            let start = try await log.currentPosition()
            let (first, second) = try await database.client.withConnection { early in
                try await database.client.withConnection { late in
                    try await Self.run(early, ["BEGIN", "SELECT pg_current_xact_id()"])
                    try await Self.run(late, ["BEGIN", "SELECT pg_current_xact_id()"])
                    // The later transaction takes the smaller log id and stays open...
                    try await late.execute("INSERT INTO public.notes (body) VALUES ('late')", [])
                    try await early.execute("INSERT INTO public.notes (body) VALUES ('early')", [])
                    try await early.execute("COMMIT", [])
                    // ...so what committed is read, and the reader waits for it.
                    let first = try await Self.read(log, after: start, count: 1)
                    try await late.execute("COMMIT", [])
                    let second = try await Self.read(log, after: first.next, count: 1)
                    return (first, second)
                }
            }
            #expect(Self.bodies(first.changes) == ["early"])
            #expect(Self.bodies(second.changes) == ["late"])
            #expect(try await log.page(after: second.next, limit: 100).changes.isEmpty)
        }
    }

    @Test func aFullPageStopsInsideATransactionAndTheNextGoesOnFromThere() async throws {
        try await TestDatabase.withDatabase { database in
            let log = try await Self.publishedNotes(database)
            let start = try await log.currentPosition()
            try await database.withOwner { connection in
                try await connection.execute("INSERT INTO public.notes (body) SELECT 'n' || i FROM generate_series(1, 5) i", [])
            }
            let read = try await Self.read(log, after: start, count: 5, limit: 2)
            #expect(read.pages == [2, 2, 1])
            #expect(Self.bodies(read.changes) == ["n1", "n2", "n3", "n4", "n5"])
        }
    }

    /// The horizon is an estimate that can dip (a transaction of another database that ends
    /// between `realtime_horizon`'s snapshot and its look at `pg_stat_activity` counts as this
    /// database's); pinned here to an older value, as CI's parallel suites once made it, when a
    /// reader went back and read n1 and n2 twice.
    @Test func aHorizonThatDipsBelowAPositionNeverReadsAChangeAgain() async throws {
        try await TestDatabase.withDatabase { database in
            let log = try await Self.publishedNotes(database)
            let start = try await log.currentPosition()
            try await database.withOwner { connection in
                try await Self.run(connection, [
                    "INSERT INTO public.notes (body) SELECT 'n' || i FROM generate_series(1, 3) i",
                    "ALTER FUNCTION public.realtime_horizon() RENAME TO realtime_horizon_estimated",
                    "CREATE TABLE public.pinned_horizon (horizon xid8)",
                    """
                    CREATE FUNCTION public.realtime_horizon() RETURNS xid8 LANGUAGE sql
                    AS $$ SELECT coalesce((SELECT horizon FROM public.pinned_horizon), public.realtime_horizon_estimated()) $$
                    """,
                ])
            }
            let read = try await Self.read(log, after: start, count: 3, limit: 2)
            #expect(Self.bodies(read.changes) == ["n1", "n2", "n3"])
            let inside = ChangeLog.Position(horizon: read.changes[0].xid, lastID: read.changes[0].id)
            try await database.withOwner { connection in
                try await connection.execute("INSERT INTO public.pinned_horizon VALUES ($1::text::xid8)", [start.horizon])
            }
            for position in [read.next, inside] {
                let dipped = try await log.page(after: position, limit: 100)
                #expect(dipped.changes.isEmpty && dipped.next == position, "stays at \(position)")
            }
            try await database.withOwner { connection in
                try await Self.run(connection, ["DELETE FROM public.pinned_horizon", "INSERT INTO public.notes (body) VALUES ('n4')"])
            }
            #expect(Self.bodies(try await Self.read(log, after: read.next, count: 1).changes) == ["n4"])
            #expect(Self.bodies(try await Self.read(log, after: inside, count: 3).changes) == ["n2", "n3", "n4"])
        }
    }

    @Test func oldRecordFollowsTheReplicaIdentityAndARollbackLeavesNothing() async throws {
        try await TestDatabase.withDatabase { database in
            let log = try await Self.publishedNotes(database)
            let start = try await log.currentPosition()
            try await database.withStatement { connection in
                try await Self.run(connection, [
                    "INSERT INTO public.notes (body) VALUES ('a')",
                    "UPDATE public.notes SET body = 'b'",
                    "ALTER TABLE public.notes REPLICA IDENTITY FULL",
                    "UPDATE public.notes SET body = 'c'",
                    "DELETE FROM public.notes",
                    "BEGIN", "INSERT INTO public.notes (body) VALUES ('rolled back')", "ROLLBACK",
                    "INSERT INTO public.notes (body) VALUES ('after')",
                ])
            }
            let changes = try await Self.read(log, after: start, count: 5).changes
            #expect(changes.map(\.type) == [.insert, .update, .update, .delete, .insert])
            #expect(Self.bodies(changes) == ["a", "b", "c", "after"])
            // The reader trims the old row to the table's replica identity, read from the catalogue.
            var notes = try #require(try await log.capturedTables().first)
            #expect(notes.identity == .full && notes.keyColumns == ["id"])
            let id = try #require(changes[0].record?["id"])
            func oldRecord(_ change: CapturedChange) throws -> JSONValue? {
                try JSONValue.parse(PreparedChange(captured: change, table: notes).forOthers).objectValue?["old_record"]
            }
            #expect(try oldRecord(changes[0]) == nil)
            #expect(try oldRecord(changes[2]) == .object(["id": id, "owner": .null, "body": .string("b")]), "FULL, readable columns only")
            #expect(try oldRecord(changes[3]) == .object(["id": id]), "a delete carries its key only")
            // Each update as the identity it was written under, whatever the table's is now.
            #expect(changes[1].identity == .default && changes[2].identity == .full)
            #expect(try oldRecord(changes[1]) == .object(["id": id]))
            var unknown = changes[1]
            unknown.identity = nil
            notes.identity = .nothing
            #expect(try oldRecord(unknown) == .object([:]))
            #expect(changes[3].record == nil && changes[3].oldRow?["body"] == .string("c"))
        }
    }

    @Test func eachSubscriberSeesWhatItsPoliciesLetItRead() async throws {
        try await TestDatabase.withDatabase { database in
            let log = try await Self.publishedNotes(database)
            let owner = UUID(), stranger = UUID()
            let ids = try await database.withOwner { connection in
                [
                    try await connection.scalarText("INSERT INTO public.notes (owner, body) VALUES ($1, 'mine') RETURNING id::text", [owner]),
                    try await connection.scalarText("INSERT INTO public.notes (owner, body) VALUES ($1, 'theirs') RETURNING id::text", [stranger]),
                ].compactMap { $0 }
            }
            let claims = [
                #"{"role":"authenticated","sub":"\#(owner.uuidString.lowercased())"}"#,
                #"{"role":"authenticated","sub":"\#(stranger.uuidString.lowercased())"}"#,
                #"{"role":"anon"}"#,
                #"{"role":"service_role"}"#,
                #"{"role":"postgres"}"#,
            ]
            // Rows as the log holds them (the key among other columns); a row that is gone is nobody's.
            let rows = ids.map { #"{"id": \#($0), "body": "ignored"}"# } + [#"{"id": 999999}"#]
            let visible = try await log.visible(table: "notes", rows: rows, claims: claims)
            #expect(visible == [ChangeLog.VisibleRow(claim: 0, row: 0), ChangeLog.VisibleRow(claim: 1, row: 1)])
            // The check leaves the connection as it found it.
            let role = try await database.withOwner { connection in try await connection.scalarText("SELECT current_user::text", []) }
            #expect(role != "authenticated")
        }
    }

    @Test func aTableLeavingThePublicationLosesItsTriggerAndAnExemptOneNeverGetsIt() async throws {
        try await TestDatabase.withDatabase { database in
            let log = try await Self.publishedNotes(database)
            #expect(try await log.capturedTables().map(\.name) == ["notes"])
            let notes = try #require(try await log.capturedTables().first)
            #expect(notes.readable == ["id", "owner", "body"])
            #expect(notes.readableOnly(["id": .number(1), "secret": .string("s")]) == ["id": .number(1)])
            #expect(try await log.sync(exempt: ["notes"]).map(\.status) == ["exempt"])
            #expect(try await log.capturedTables().isEmpty)
            _ = try await log.sync(exempt: [])
            try await database.withOwner { connection in
                try await connection.execute("ALTER PUBLICATION supabase_realtime DROP TABLE public.notes", [])
            }
            #expect(try await log.sync(exempt: []).isEmpty)
            #expect(try await log.capturedTables().isEmpty)
        }
    }

    @Test func pruningKeepsWhatAnInstanceStillNeedsAndForgetsDeadInstances() async throws {
        try await TestDatabase.withDatabase { database in
            let log = try await Self.publishedNotes(database)
            let before = try await log.currentPosition()
            try await log.save(before, of: "behind")
            try await database.withStatement { connection in
                try await connection.execute("INSERT INTO public.notes (body) VALUES ('one'), ('two')", [])
            }
            let after = try await Self.read(log, after: before, count: 2).next
            func age(_ sql: String) async throws {
                try await database.withStatement { connection in try await connection.execute(sql, []) }
            }
            // Pruning also keeps what a transaction still running anywhere on the cluster may
            // need (tests run in parallel on one cluster): prune until `count` went, as the
            // reader's timer would.
            func pruned(_ count: Int) async throws -> Int {
                var total = 0
                let deadline = ContinuousClock.now + .seconds(30)
                while total < count, ContinuousClock.now < deadline {
                    total += try await log.prune(olderThan: .seconds(3_600))
                    if total < count { try await Task.sleep(for: .milliseconds(50)) }
                }
                return total
            }
            func changes() async throws -> String? {
                try await database.withStatement { connection in try await connection.scalarText("SELECT count(*)::text FROM public.realtime_changes", []) }
            }
            // Older than the retention, but the instance "behind" has not read them yet.
            try await age("UPDATE public.realtime_changes SET committed_at = now() - interval '2 hours'")
            #expect(try await log.prune(olderThan: .seconds(3_600)) == 0)
            #expect(try await changes() == "2")
            // It read them: they go.
            try await log.save(after, of: "behind")
            #expect(try await pruned(2) == 2)
            // An instance silent past the retention is forgotten, and holds nothing back.
            try await database.withStatement { connection in
                try await connection.execute("INSERT INTO public.notes (body) VALUES ('three')", [])
            }
            _ = try await Self.read(log, after: after, count: 1)
            try await log.save(before, of: "dead")
            try await age("UPDATE public.realtime_positions SET updated_at = now() - interval '2 hours' WHERE instance = 'dead'")
            try await age("UPDATE public.realtime_positions SET horizon = public.realtime_horizon() WHERE instance = 'behind'")
            try await age("UPDATE public.realtime_changes SET committed_at = now() - interval '2 hours'")
            #expect(try await pruned(1) == 1)
            #expect(try await log.savedPosition(of: "dead") == nil)
        }
    }
}
