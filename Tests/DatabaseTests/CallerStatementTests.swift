import Core
import Database
import Foundation
import PostgresNIO
import Testing
import TestSupport

/// `CallerStatement`: one round trip as the caller (migration 0040's `public.run_as_caller`).
@Suite struct CallerStatementTests {
    static let user = UUID()
    static let caller = Caller(
        role: .authenticated, userID: user, claimsJSON: #"{"sub":"\#(user.uuidString.lowercased())","role":"authenticated"}"#)

    static let whoAmI = CallerStatement(
        sql: "SELECT current_user::text, auth.uid()::text, current_setting('request.path', true), $1[1] || $1[2]",
        values: ["a'b", "; DROP TABLE x"], columns: "who text, uid text, path text, joined text")

    @Test func aStatementRunsAsTheCallerWithItsClaimsSettingsAndValues() async throws {
        try await TestDatabase.withDatabase { database in
            let row = try await database.withCallerStatements(
                Self.caller, settings: [(name: "request.path", value: "/rest/v1/notes")], transaction: false, translatingErrors: false
            ) { connection in
                var found: (String, String, String, String)?
                for try await row in try await connection.query(Self.whoAmI).decode((String, String, String, String).self) { found = row }
                return found
            }
            #expect(row?.0 == "authenticated")
            #expect(row?.1 == Self.user.uuidString.lowercased())
            #expect(row?.2 == "/rest/v1/notes")
            // Values are bound, never spliced into the text.
            #expect(row?.3 == "a'b; DROP TABLE x")
        }
    }

    @Test func theRoleEndsWithTheCallSoATransactionMayMakeSeveral() async throws {
        try await TestDatabase.withDatabase { database in
            let (first, second, after) = try await database.withCallerStatements(
                Self.caller, settings: [], transaction: true, translatingErrors: false
            ) { connection in
                var roles: [String] = []
                for _ in 0..<2 {
                    for try await row in try await connection.query(Self.whoAmI).decode((String, String?, String?, String).self) {
                        roles.append(row.0)
                    }
                }
                var owner = ""
                for try await name in try await connection.connection.query("SELECT current_user::text", logger: connection.connection.logger)
                    .decode(String.self) { owner = name }
                return (roles.first, roles.last, owner)
            }
            #expect(first == "authenticated")
            #expect(second == "authenticated")
            #expect(after != "authenticated" && !after.isEmpty)
        }
    }

    @Test func aStatementThatReturnsNothingRuns() async throws {
        try await TestDatabase.withDatabase { database in
            let statement = CallerStatement(sql: "SELECT set_config('request.x', $1[1], false)", values: ["1"], columns: nil)
            let rows = try await database.withCallerStatements(Self.caller, settings: [], transaction: false, translatingErrors: false) { connection in
                var count = 0
                for try await _ in try await connection.query(statement) { count += 1 }
                return count
            }
            #expect(rows == 0)
        }
    }

    @Test(arguments: [Caller.anonymous, caller])
    func clientRolesCannotCallTheWrapper(caller: Caller) async throws {
        try await TestDatabase.withDatabase { database in
            // It could take any role the owner has: only the owner may call it.
            let error = await #expect(throws: APIError.self) {
                try await database.withCaller(caller) { connection in
                    try await connection.query(
                        "SELECT * FROM public.run_as_caller('service_role', '{}', '{}', 'SELECT 1', '{}', true) AS _r(one int)",
                        logger: connection.logger)
                }
            }
            #expect(error?.code == "42501")
        }
    }
}
