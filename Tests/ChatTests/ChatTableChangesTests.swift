@testable import Chat
import Core
import Database
import Foundation
import Realtime
import Testing
import TestSupport

/// The changes of rows written through the table API carry the rows as written, in the shape
/// `ChatChangeFeed` reads, so a row removed at once still reaches subscribers as its INSERT.
@Suite struct ChatTableChangesTests {
    /// A row of `table` as the table API hands it to its observer: the watched columns, as JSON.
    static func written(_ database: Database, _ table: String, where condition: String) async throws -> [String: JSONValue] {
        let columns = try #require(ChatTableChanges.watchedColumns[table])
        let pairs = columns.map { "'\($0)', t.\($0)" }.joined(separator: ", ")
        let text = try await database.withOwner { connection in
            try await connection.scalarText("SELECT json_build_object(\(pairs))::text FROM public.\(table) t WHERE \(condition)", [])
        }
        let json = try #require(text)
        return try #require(try JSONValue.parse(json).objectValue)
    }

    @Test func writtenRowsTravelAsTheRecordsTheFeedWouldRead() async throws {
        try await TestDatabase.withDatabase { database in
            let f = ChatFixture(database)
            let feed = ChatChangeFeed(database: database)
            let changes = ChatTableChanges(database: database)
            let a = try await f.user("tc_a"), b = try await f.user("tc_b")
            let chat = try await f.dm(a, b)
            let message = try #require(try await f.send(a, chat, "written")["message_id"] as? String)
            _ = try await f.call(b, "set_reaction", ["message_id": message, "emoji": "👍"])

            for (table, condition) in [
                ("messages", "t.id = '\(message)'"), ("participants", "t.conversation_id = '\(chat)' AND t.user_id = '\(b.id)'"),
                ("reactions", "t.message_id = '\(message)'"),
            ] {
                let row = try await Self.written(database, table, where: condition)
                let inserted = try #require(try await changes.envelopes(table: table, type: .insert, rows: [row]).first)
                #expect(inserted.record != nil, "\(table)")
                #expect(try await feed.record(for: inserted) == inserted.record?.objectValue, "\(table)")
                let deleted = try #require(try await changes.envelopes(table: table, type: .delete, rows: [row]).first)
                #expect(deleted.record == nil, "\(table): a delete carries only its key")
            }

            // Removed before the change is delivered: the feed finds nothing, the change still has its row.
            let row = try await Self.written(database, "reactions", where: "t.message_id = '\(message)'")
            _ = try await f.call(b, "set_reaction", ["message_id": message, "emoji": NSNull()])
            let inserted = try #require(try await changes.envelopes(table: "reactions", type: .insert, rows: [row]).first)
            #expect(try await feed.record(for: inserted) == nil)
            #expect(inserted.record?.objectValue?["emoji"] == .string("👍"))
            #expect(inserted.record?.objectValue?["conversation_id"] == .string(chat))

            // A row without every record column still announces its change, read by realtime.
            let keyOnly = row.filter { ["message_id", "user_id"].contains($0.key) }
            let partial = try #require(try await changes.envelopes(table: "reactions", type: .update, rows: [keyOnly]).first)
            #expect(partial.record == nil && partial.key == ["message_id": message, "user_id": b.id])
        }
    }
}
