@testable import Chat
import Core
import Database
import Foundation
import Testing
import TestSupport

/// Inserts through the table API (migration 0032's trigger) keep the limit `send_message_v1`
/// applies (`MessageRules.perMinute`): the two must not drift apart.
@Suite struct TableInsertRateTests {
    @Test func tableInsertsStopAtTheSameLimitAsSendMessage() async throws {
        try await TestDatabase.withDatabase { database in
            let fixture = ChatFixture(database)
            let alice = try await fixture.user("alice")
            let bob = try await fixture.user("bob")
            let conversation = try await fixture.dm(alice, bob)
            // As the table API sends an insert: one statement as the caller, with its request path.
            func insert(_ count: Int) async throws {
                let statement = CallerStatement(
                    sql: "INSERT INTO public.messages (conversation_id, body) SELECT $1[1]::uuid, 'n' || i FROM generate_series(1, $1[2]::int) i",
                    values: [conversation, String(count)], columns: nil)
                try await database.withCallerStatements(
                    alice, settings: [(name: "request.path", value: "/rest/v1/messages")], transaction: false, translatingErrors: false
                ) { connection in
                    for try await _ in try await connection.query(statement) {}
                }
            }
            try await insert(MessageRules.perMinute)
            do {
                try await insert(1)
                Issue.record("message \(MessageRules.perMinute + 1) within the minute was accepted")
            } catch {
                #expect(PostgresErrorText.sqlState(error) == "PT429")
            }
        }
    }
}
