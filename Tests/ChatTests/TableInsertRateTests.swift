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
            func insert(_ count: Int) async throws {
                try await database.withCaller(alice, settings: [(name: "request.path", value: "/rest/v1/messages")], translatingErrors: false) {
                    connection in
                    try await connection.execute(
                        "INSERT INTO public.messages (conversation_id, body) SELECT $1::uuid, 'n' || i FROM generate_series(1, $2::int) i",
                        [conversation, count])
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
