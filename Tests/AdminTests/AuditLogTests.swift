import Core
import Database
import Foundation
import Testing
import TestSupport

@testable import Admin

/// The audit log is append-only for the application's roles and hash-chained, so an edit
/// made with the owner role is found by the verify walk.
@Suite struct AuditLogTests {
    static func append(_ database: Database, count: Int) async throws {
        for index in 0..<count {
            try await AuditLog.record(
                AuditEvent(actor: nil, action: "test.event", target: "t\(index)", outcome: index % 2 == 0 ? .allowed : .denied,
                           reason: "reason \(index)", requestID: "req-\(index)", detail: ["n": .number(Double(index)), "text": .string("é\u{1F600}")]),
                database: database)
        }
    }

    @Test func anUntouchedChainVerifiesAndNamesItsHead() async throws {
        try await TestDatabase.withDatabase { database in
            let empty = try await AuditChain.verify(database: database)
            #expect(empty.intact && empty.rows == 0 && empty.headSeq == nil)
            try await Self.append(database, count: 5)
            let result = try await AuditChain.verify(database: database)
            #expect(result.intact)
            #expect(result.rows == 5)
            #expect(result.headSeq == 5)
            #expect(result.headHash?.count == 64)
            let anchored = try await AuditChain.verify(database: database, anchor: (3, try await Self.hash(database, seq: 3)))
            #expect(anchored.intact)
        }
    }

    @Test(arguments: [
        "UPDATE admin.audit_log SET reason = 'nothing to see' WHERE seq = 3",
        "UPDATE admin.audit_log SET detail = '{\"n\": 2.5}' WHERE seq = 3",
        "UPDATE admin.audit_log SET at = at + interval '1 microsecond' WHERE seq = 3",
        "UPDATE admin.audit_log SET outcome = CASE outcome WHEN 'allowed' THEN 'denied' ELSE 'allowed' END WHERE seq = 3",
        "DELETE FROM admin.audit_log WHERE seq = 3",
    ])
    func anEditByTheOwnerRoleIsFoundAtItsRow(tampering: String) async throws {
        try await TestDatabase.withDatabase { database in
            try await Self.append(database, count: 5)
            try await database.withOwner { connection in try await connection.execute(tampering, []) }
            let result = try await AuditChain.verify(database: database)
            #expect(!result.intact)
            #expect(result.firstBrokenSeq == (tampering.hasPrefix("DELETE") ? 4 : 3))
            #expect(result.headSeq == 2)
        }
    }

    @Test func rewritingTheHashesToMatchIsFoundAtTheNextRow() async throws {
        try await TestDatabase.withDatabase { database in
            try await Self.append(database, count: 4)
            try await database.withOwner { connection in
                try await connection.execute(
                    """
                    UPDATE admin.audit_log l SET reason = 'rewritten', hash = sha256(l.prev_hash || admin.audit_canonical(
                        ROW(l.seq, l.at, l.actor, l.action, l.scope, l.target, l.outcome, 'rewritten', l.request_id, l.detail, l.prev_hash, l.hash)::admin.audit_log))
                    WHERE seq = 2
                    """, [])
            }
            let result = try await AuditChain.verify(database: database)
            #expect(result.firstBrokenSeq == 3)
        }
    }

    @Test func rowsCutFromTheEndAreFoundWithAnAnchor() async throws {
        try await TestDatabase.withDatabase { database in
            try await Self.append(database, count: 5)
            let anchor = (seq: Int64(5), hash: try await Self.hash(database, seq: 5))
            try await database.withOwner { connection in try await connection.execute("DELETE FROM admin.audit_log WHERE seq >= 4", []) }
            #expect(try await AuditChain.verify(database: database).intact)  // a shorter chain is a valid chain
            let anchored = try await AuditChain.verify(database: database, anchor: anchor)
            #expect(anchored.firstBrokenSeq == 5)
        }
    }

    @Test func concurrentAppendsFormOneChainInCommitOrder() async throws {
        try await TestDatabase.withDatabase { database in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<8 { group.addTask { try await Self.append(database, count: 5) } }
                try await group.waitForAll()
            }
            let result = try await AuditChain.verify(database: database)
            #expect(result.intact)
            #expect(result.rows == 40)
        }
    }

    @Test(arguments: ["anon", "authenticated", "service_role"])
    func theApplicationRolesCannotChangeOrEmptyTheLog(role: String) async throws {
        try await TestDatabase.withDatabase { database in
            try await Self.append(database, count: 2)
            for statement in [
                "UPDATE admin.audit_log SET reason = 'x'",
                "DELETE FROM admin.audit_log",
                "TRUNCATE admin.audit_log",
                "INSERT INTO admin.audit_log (seq, action, outcome, prev_hash, hash) VALUES (99, 'forged', 'allowed', '', '')",
                "SELECT admin.audit_append(NULL, 'forged', NULL, NULL, 'allowed', NULL, NULL, NULL)",
            ] {
                let error = await #expect(throws: (any Error).self, "\(role): \(statement)") {
                    try await database.withOwner { connection in
                        try await connection.execute("SELECT set_config('role', $1, true)", [role])
                        try await connection.execute(statement, [])
                    }
                }
                #expect(error.flatMap(PostgresErrorText.sqlState) == "42501", "\(role): \(statement)")
            }
            #expect(try await AuditChain.verify(database: database).rows == 2)
        }
    }

    static func hash(_ database: Database, seq: Int64) async throws -> String {
        try await database.withOwner { connection in
            for try await hash in try await connection.rows("SELECT encode(hash, 'hex') FROM admin.audit_log WHERE seq = $1", [seq]).decode(String.self) {
                return hash
            }
            return ""
        }
    }
}
