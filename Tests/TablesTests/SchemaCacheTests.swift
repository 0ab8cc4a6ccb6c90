import Core
import Database
import Testing
import TestSupport
@testable import Tables

@Suite struct SchemaCacheTests {
    /// What the migrations expose, and nothing of the private schemas: a new grant to a request
    /// role shows up here and in docs/tables.md together.
    @Test func exposesThePublicTablesGrantedToRequestRoles() async throws {
        try await TestDatabase.withDatabase { database in
            let tables = try await SchemaCache(database: database).tables()
            #expect(tables.keys.sorted() == [
                "blocks", "conversations", "dm_pairs", "follows", "hidden_messages", "message_reports", "messages", "participants",
                "profile_reports", "profile_settings", "profiles", "reactions",
            ])
            let messages = try #require(tables["messages"])
            #expect(messages.primaryKey == ["id"])
            #expect(messages.readableColumns(by: .anon).isEmpty)
            #expect(messages.readableColumns(by: .authenticated).map(\.name).contains("body"))
        }
    }

    @Test func aTableCreatedAndGrantedLaterAppearsWithoutARestart() async throws {
        try await TestDatabase.withDatabase { database in
            let cache = SchemaCache(database: database)
            #expect(try await cache.table("later") == nil)
            try await database.withOwner { connection in
                try await connection.execute("CREATE TABLE public.later (id int PRIMARY KEY)", [])
                try await connection.execute("ALTER TABLE public.later ENABLE ROW LEVEL SECURITY", [])
                try await connection.execute("GRANT SELECT ON public.later TO anon", [])
            }
            try await Task.sleep(for: .milliseconds(1100))
            #expect(try await cache.table("later")?.readableColumns(by: .anon).map(\.name) == ["id"])
        }
    }
}
