import Chat
import Core
import Foundation
@testable import Realtime
import Synchronization
import Testing

/// The bindable tables: the chat feed's, and the captured tables re-read when a join names
/// one not yet known, at most once a second however many joins ask.
@Suite struct ChangeCatalogsTests {
    private static let notes = CapturedTable(
        name: "notes", columns: [("id", "int8"), ("body", "text"), ("secret", "text")], readable: ["id", "body"], keyColumns: ["id"], identity: .full)

    @Test func joinsNamingAnUnknownTableWaitForARereadStartedAfterThemAtMostOneASecond() async throws {
        let catalogs = ChangeCatalogs(feed: ChangeCatalog.chatTables)
        let starts = Mutex<[ContinuousClock.Instant]>([])
        catalogs.setRefresh {
            starts.withLock { $0.append(.now) }
            try? await Task.sleep(for: .milliseconds(100))
            catalogs.update(captured: [Self.notes])
        }
        await catalogs.refresh(ifMissing: ["messages"])
        #expect(starts.withLock { $0.isEmpty }, "a known table needs no re-read")
        // Joins arriving together share a re-read, and then know the table.
        await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<20 {
                group.addTask {
                    await catalogs.refresh(ifMissing: ["notes"])
                    return catalogs.current.table("notes") != nil
                }
            }
            for await known in group { #expect(known) }
        }
        #expect(starts.withLock { $0.count } == 1)
        // Each join for a table still unknown returns only after a re-read that started after
        // it arrived; re-reads start at least a second apart, however many joins ask.
        let joins = await withTaskGroup(of: (ContinuousClock.Instant, ContinuousClock.Instant).self) { group in
            for _ in 0..<50 {
                group.addTask {
                    let arrived = ContinuousClock.now
                    await catalogs.refresh(ifMissing: ["still_nope"])
                    return (arrived, .now)
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        let started = starts.withLock { $0 }
        #expect(started.count >= 2)
        // At most one re-read a second (counted, not timed apart: a loaded machine may start
        // one late, bringing the next closer to it).
        let first = try #require(joins.map(\.0).min()), last = try #require(joins.map(\.1).max())
        let seconds = Int((last - first).components.seconds)
        #expect(started.count - 1 <= seconds + 2, "\(started.count) re-reads in \(last - first)")
        for (arrived, returned) in joins { #expect(started.contains { $0 >= arrived && $0 <= returned }) }
        await catalogs.refresh(ifMissing: ["notes"])
        #expect(starts.withLock { $0.count } == started.count, "a known table needs no re-read")
    }

    @Test func aFeedTableWinsOverACapturedTableOfTheSameName() {
        let catalogs = ChangeCatalogs(feed: ChangeCatalog.chatTables)
        catalogs.update(captured: [CapturedTable(name: "messages", columns: [("id", "int8")], readable: ["id"]), Self.notes])
        #expect(catalogs.captured("messages") == nil)
        #expect(catalogs.current.table("messages")?.columns.count == ChangeCatalog.chatTables[0].columns.count)
        #expect(catalogs.isFeedTable("messages") && !catalogs.isFeedTable("notes"))
        #expect(catalogs.feedSources == ["messages", "participants", "reactions"])
        // Errors name the feed's tables, never the published ones; only readable columns bind.
        #expect(catalogs.current.feedNames == ["cursors", "messages", "participants", "reactions"])
        #expect(catalogs.current.columnTypes(of: "notes")?.keys.sorted() == ["body", "id"])
    }

    @Test func aCapturedChangeShowsOnlyReadableColumnsAndADeleteOnlyItsKey() throws {
        let committed = Date(timeIntervalSince1970: 1_800_000_000)
        let update = CapturedChange(
            id: 1, xid: "10", table: "notes", type: .update, record: ["id": .number(7), "body": .string("b"), "secret": .string("s")],
            oldRow: ["id": .number(7), "body": .string("a"), "secret": .string("t")], committedAt: committed)
        let prepared = PreparedChange(captured: update, table: Self.notes)
        let data = try #require(try JSONValue.parse(prepared.forOthers).objectValue)
        #expect(data["record"] == .object(["id": .number(7), "body": .string("b")]))
        #expect(data["old_record"] == .object(["id": .number(7), "body": .string("a")]))
        guard case .array(let columns)? = data["columns"] else { Issue.record("no columns"); return }
        #expect(columns.count == 2)
        #expect(data["commit_timestamp"] == .string("2027-01-15T08:00:00.000Z"))

        var delete = update
        delete.type = .delete
        delete.record = nil
        let deleted = try #require(try JSONValue.parse(PreparedChange(captured: delete, table: Self.notes).forOthers).objectValue)
        #expect(deleted["old_record"] == .object(["id": .number(7)]))
        #expect(deleted["record"] == nil)
    }
}
