import Core
import Foundation
import HummingbirdTesting
import Testing
@testable import Tables

@Suite struct TableWriteTests {
    let alice = TablesHarness.alice
    let bob = TablesHarness.bob

    func code(_ response: TestResponse) -> String? { TablesHarness.object(response.body)["code"] as? String }

    @Test func insertsReturnWhatPreferAsks() async throws {
        try await TablesHarness.withTables { client, _ in
            let minimal = try await client.rest(.post, "notes", as: alice, body: #"{"title":"one"}"#)
            #expect(minimal.status == .created)
            #expect(minimal.body.readableBytes == 0)
            let represented = try await client.rest(
                .post, "notes?select=title,score,owner", as: alice, body: #"[{"title":"two"},{"title":"three"}]"#,
                [.prefer: "return=representation"])
            #expect(represented.status == .created)
            let rows = TablesHarness.rows(represented.body)
            #expect(rows.map { $0["title"] as? String } == ["two", "three"])
            #expect(rows.first?["score"] as? Int == 7)
            #expect(rows.first?["owner"] as? String == alice.uuidString.lowercased())
            let headersOnly = try await client.rest(
                .post, "notes", as: alice, body: #"{"id":900,"title":"four"}"#, [.prefer: "return=headers-only"])
            #expect(headersOnly.headers[.location] == "/notes?id=eq.900")
            let single = try await client.rest(
                .post, "notes", as: alice, body: #"{"title":"five"}"#,
                [.prefer: "return=representation", .accept: "application/vnd.pgrst.object+json"])
            #expect(TablesHarness.object(single.body)["title"] as? String == "five")
            let count = TablesHarness.rows(try await client.rest(.get, "notes", as: alice).body).count
            #expect(count == 5)
        }
    }

    @Test func missingKeysTakeDefaultsOnlyWhenAsked() async throws {
        try await TablesHarness.withTables { client, _ in
            let mismatched = try await client.rest(.post, "notes", as: alice, body: #"[{"title":"a","score":1},{"title":"b"}]"#)
            #expect(mismatched.status == .badRequest)
            #expect(code(mismatched) == "PGRST102")
            let defaults = try await client.rest(
                .post, "notes?select=title,score", as: alice, body: #"[{"title":"a","score":1},{"title":"b"}]"#,
                [.prefer: "return=representation, missing=default"])
            #expect(defaults.status == .created, "\(String(buffer: defaults.body))")
            #expect(TablesHarness.rows(defaults.body).map { $0["score"] as? Int } == [1, 7])
            let columns = try await client.rest(
                .post, "notes?columns=title&select=title,score", as: alice, body: #"{"title":"c","score":99}"#,
                [.prefer: "return=representation"])
            #expect(TablesHarness.rows(columns.body).first?["score"] as? Int == 7)
        }
    }

    @Test func refusedWritesChangeNothing() async throws {
        try await TablesHarness.withTables { client, _ in
            let unknown = try await client.rest(.post, "notes", as: alice, body: #"{"title":"x","nope":1}"#)
            #expect(unknown.status == .badRequest)
            #expect(code(unknown) == "PGRST204")
            let notGranted = try await client.rest(.post, "notes", as: alice, body: #"{"title":"x","secret":"s"}"#)
            #expect(notGranted.status == .forbidden)
            #expect(code(notGranted) == "42501")
            let forSomeoneElse = try await client.rest(.post, "notes", as: alice, body: #"{"title":"x","owner":"\#(bob.uuidString)"}"#)
            #expect(forSomeoneElse.status == .forbidden)
            #expect(code(forSomeoneElse) == "42501")
            let notNull = try await client.rest(.post, "notes", as: alice, body: #"{"body":"no title"}"#)
            #expect(notNull.status == .badRequest)
            #expect(code(notNull) == "23502")
            let invalid = try await client.rest(.post, "notes", as: alice, body: #"[1,2]"#)
            #expect(code(invalid) == "PGRST102")
            let broken = try await client.rest(.post, "notes", as: alice, body: #"{"title":"#)
            #expect(code(broken) == "PGRST102")
            let anon = try await client.rest(.post, "notes", as: nil, body: #"{"title":"x"}"#)
            #expect(anon.status == .unauthorized)
            let duplicate = try await client.rest(.post, "notes", as: alice, body: #"[{"id":1,"title":"a"},{"id":1,"title":"b"}]"#)
            #expect(duplicate.status == .conflict)
            #expect(code(duplicate) == "23505")
            #expect(TablesHarness.rows(try await client.rest(.get, "notes", as: alice).body).isEmpty)
        }
    }

    @Test func upsertsMergeOrIgnoreDuplicates() async throws {
        try await TablesHarness.withTables { client, _ in
            _ = try await client.rest(.post, "notes", as: alice, body: #"{"id":1,"title":"first"}"#)
            let merged = try await client.rest(
                .post, "notes?select=id,title", as: alice, body: #"[{"id":1,"title":"merged"},{"id":2,"title":"new"}]"#,
                [.prefer: "resolution=merge-duplicates,return=representation"])
            #expect(merged.status == .created)
            #expect(TablesHarness.rows(merged.body).map { $0["title"] as? String } == ["merged", "new"])
            let ignored = try await client.rest(
                .post, "notes?select=id,title", as: alice, body: #"[{"id":1,"title":"ignored"},{"id":3,"title":"third"}]"#,
                [.prefer: "resolution=ignore-duplicates,return=representation"])
            #expect(TablesHarness.rows(ignored.body).map { $0["title"] as? String } == ["third"])
            let titles = TablesHarness.rows(try await client.rest(.get, "notes?select=title&order=id", as: alice).body)
            #expect(titles.map { $0["title"] as? String } == ["merged", "new", "third"])
            let put = try await client.rest(.put, "notes?id=eq.2", as: alice, body: #"{"id":2,"title":"put"}"#, [.prefer: "return=representation"])
            #expect(put.status == .ok)
            #expect(TablesHarness.rows(put.body).first?["title"] as? String == "put")
            let mismatched = try await client.rest(.put, "notes?id=eq.2", as: alice, body: #"{"id":3,"title":"x"}"#)
            #expect(code(mismatched) == "PGRST105")
            let notKey = try await client.rest(.put, "notes?title=eq.put", as: alice, body: #"{"id":2,"title":"x"}"#)
            #expect(code(notKey) == "PGRST105")
        }
    }

    @Test func theObserverHearsWhichRowsAnUpsertInsertedAndWhichItUpdated() async throws {
        let observer = RecordingObserver(table: "notes", columns: ["id"])
        try await TablesHarness.withTables(observer: observer) { client, _ in
            _ = try await client.rest(.post, "notes", as: alice, body: #"{"id":1,"title":"first"}"#)
            let merged = try await client.rest(
                .post, "notes", as: alice, body: #"[{"id":1,"title":"merged"},{"id":2,"title":"new"}]"#,
                [.prefer: "resolution=merge-duplicates"])
            #expect(merged.status == .created, "\(String(buffer: merged.body))")
            _ = try await client.rest(
                .post, "notes", as: alice, body: #"[{"id":2,"title":"ignored"},{"id":3,"title":"third"}]"#,
                [.prefer: "resolution=ignore-duplicates"])
            _ = try await client.rest(.put, "notes?id=eq.4", as: alice, body: #"{"id":4,"title":"put"}"#)
            _ = try await client.rest(.put, "notes?id=eq.4", as: alice, body: #"{"id":4,"title":"put again"}"#)
            _ = try await client.rest(.patch, "notes?id=eq.3", as: alice, body: #"{"title":"patched"}"#)
            _ = try await client.rest(.delete, "notes?id=eq.3", as: alice)
            _ = try await client.rest(.post, "notes", as: bob, body: #"{"id":1,"title":"not bob's"}"#, [.prefer: "resolution=merge-duplicates"])
        }
        #expect(observer.heard == [
            "insert 1", "insert 2", "update 1", "insert 3", "insert 4", "update 4", "update 3", "delete 3",
        ])
    }

    @Test func limitedUpdatesAndDeletesTouchOnlyTheOrderedWindow() async throws {
        try await TablesHarness.withTables { client, _ in
            _ = try await client.rest(.post, "notes", as: alice, body: #"[{"id":1,"title":"a","score":3},{"id":2,"title":"b","score":1},{"id":3,"title":"c","score":2},{"id":4,"title":"d","score":5}]"#)
            let patched = try await client.rest(
                .patch, "notes?score=lt.5&order=score&limit=2&select=id", as: alice, body: #"{"title":"low"}"#,
                [.prefer: "return=representation"])
            #expect(patched.status == .ok)
            #expect(Set(TablesHarness.rows(patched.body).compactMap { $0["id"] as? Int }) == [2, 3])
            let deleted = try await client.rest(
                .delete, "notes?id=gt.0&order=id.desc&limit=1&offset=1&select=id", as: alice, [.prefer: "return=representation"])
            #expect(TablesHarness.rows(deleted.body).compactMap { $0["id"] as? Int } == [3])
            let left = TablesHarness.rows(try await client.rest(.get, "notes?select=id,title&order=id", as: alice).body)
            #expect(left.map { "\($0["id"] ?? "")=\($0["title"] ?? "")" } == ["1=a", "2=low", "4=d"])
            let put = try await client.rest(.put, "notes?id=eq.1&limit=1", as: alice, body: #"{"id":1,"title":"x"}"#)
            #expect(code(put) == "PGRST114")
        }
    }

    @Test func maxAffectedRefusesAndRollsBackAWriteTouchingMoreRowsUnderStrictHandling() async throws {
        try await TablesHarness.withTables { client, _ in
            _ = try await client.rest(.post, "notes", as: alice, body: #"[{"id":1,"title":"a"},{"id":2,"title":"b"},{"id":3,"title":"c"}]"#)
            let tooMany = try await client.rest(
                .patch, "notes?id=lte.2", as: alice, body: #"{"title":"x"}"#, [.prefer: "handling=strict, max-affected=1"])
            #expect(tooMany.status == .badRequest)
            #expect(code(tooMany) == "PGRST124")
            #expect(TablesHarness.object(tooMany.body)["details"] as? String == "The query affects 2 rows")
            let deleteTooMany = try await client.rest(.delete, "notes?id=gt.0", as: alice, [.prefer: "handling=strict,max-affected=2"])
            #expect(code(deleteTooMany) == "PGRST124")
            let titles = TablesHarness.rows(try await client.rest(.get, "notes?select=title&order=id", as: alice).body)
            #expect(titles.map { $0["title"] as? String } == ["a", "b", "c"])
            let withinCap = try await client.rest(
                .delete, "notes?id=eq.3", as: alice, [.prefer: "handling=strict,max-affected=1"])
            #expect(withinCap.status == .noContent)
            #expect(withinCap.headers[.preferenceApplied] == "max-affected=1")
            // Lenient handling ignores the cap, as PostgREST does.
            let lenient = try await client.rest(.patch, "notes?id=lte.2", as: alice, body: #"{"title":"y"}"#, [.prefer: "max-affected=1"])
            #expect(lenient.status == .noContent)
            let invalid = try await client.rest(.delete, "notes?id=eq.1", as: alice, [.prefer: "handling=strict,max-affected=-1"])
            #expect(code(invalid) == "PGRST122")
        }
    }

    @Test func updatesAndDeletesTouchOnlyFilteredVisibleRows() async throws {
        try await TablesHarness.withTables { client, _ in
            _ = try await client.rest(.post, "notes", as: alice, body: #"[{"id":1,"title":"a"},{"id":2,"title":"b"}]"#)
            _ = try await client.rest(.post, "notes", as: bob, body: #"{"id":3,"title":"bob's"}"#)
            let patched = try await client.rest(
                .patch, "notes?id=eq.1&select=id,title,score", as: alice, body: #"{"title":"A","score":5}"#,
                [.prefer: "return=representation"])
            #expect(patched.status == .ok)
            #expect(TablesHarness.rows(patched.body).first?["title"] as? String == "A")
            let minimal = try await client.rest(.patch, "notes?id=eq.2", as: alice, body: #"{"title":"B"}"#)
            #expect(minimal.status == .noContent)
            let notOwnColumn = try await client.rest(.patch, "notes?id=eq.2", as: alice, body: #"{"owner":"\#(bob.uuidString)"}"#)
            #expect(notOwnColumn.status == .forbidden)
            // Bob's request reaches none of Alice's rows.
            let bobsPatch = try await client.rest(.patch, "notes?id=eq.1", as: bob, body: #"{"title":"hacked"}"#, [.prefer: "return=representation"])
            #expect(TablesHarness.rows(bobsPatch.body).isEmpty)
            let bobsDelete = try await client.rest(.delete, "notes?id=in.(1,2)", as: bob, [.prefer: "return=representation"])
            #expect(TablesHarness.rows(bobsDelete.body).isEmpty)
            let unfiltered = try await client.rest(.delete, "notes", as: alice)
            #expect(unfiltered.status == .badRequest)
            #expect(code(unfiltered) == "21000")
            let unfilteredPatch = try await client.rest(.patch, "notes", as: alice, body: #"{"title":"all"}"#)
            #expect(code(unfilteredPatch) == "21000")
            let deleted = try await client.rest(.delete, "notes?id=eq.1", as: alice, [.prefer: "return=representation"])
            #expect(deleted.status == .ok)
            #expect(TablesHarness.rows(deleted.body).map { $0["title"] as? String } == ["A"])
            let singular = try await client.rest(.delete, "notes?id=gt.100", as: alice, [.accept: "application/vnd.pgrst.object+json"])
            #expect(singular.status == .notAcceptable)
            #expect(code(singular) == "PGRST116")
            #expect(TablesHarness.rows(try await client.rest(.get, "notes?select=title", as: alice).body).map { $0["title"] as? String } == ["B"])
            #expect(TablesHarness.rows(try await client.rest(.get, "notes?select=title", as: bob).body).map { $0["title"] as? String } == ["bob's"])
        }
    }

    @Test func insertsStopAtTheRowLimit() async throws {
        var limits = TableLimits()
        limits.maximumInsertRows = 2
        try await TablesHarness.withTables(limits: limits) { client, _ in
            let tooMany = try await client.rest(.post, "notes", as: alice, body: #"[{"title":"a"},{"title":"b"},{"title":"c"}]"#)
            #expect(tooMany.status == .badRequest)
            #expect(code(tooMany) == "PGRST100")
            #expect(try await client.rest(.post, "notes", as: alice, body: #"[{"title":"a"},{"title":"b"}]"#).status == .created)
        }
    }
}

/// Records each committed write it is told of as "kind id", in order.
final class RecordingObserver: TableWriteObserver, @unchecked Sendable {
    let table: String
    let columns: [String]
    private let lock = NSLock()
    private var writes: [String] = []

    init(table: String, columns: [String]) {
        self.table = table
        self.columns = columns
    }

    var heard: [String] { lock.withLock { writes } }

    func watchedColumns(of table: String) -> [String]? { table == self.table ? columns : nil }

    func committed(_ write: TableWrite) async {
        let lines = write.rows.map { row in "\(write.kind.rawValue) \(row["id"].map { $0.jsonText } ?? "?")" }
        lock.withLock { writes += lines }
    }
}
