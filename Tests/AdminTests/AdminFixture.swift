import Core
import Database
import Foundation
import TestSupport

@testable import Admin

/// Admins made directly in the database with a known TOTP secret, and a movable clock.
struct AdminFixture {
    let database: Database
    let clock: TestClock
    let admin: AdminService

    static let secret = Array("12345678901234567890".utf8)

    init(_ database: Database, sessionMinutes: Int = 30) {
        self.database = database
        let clock = TestClock(Date())
        self.clock = clock
        self.admin = AdminService(database: database, settings: AdminSettings(sessionMinutes: sessionMinutes), now: { clock.now })
    }

    /// A new platform user's caller.
    func user() async throws -> Caller {
        let id = try await database.withOwner { connection -> UUID in
            let phone = TestPhone.unique()
            for try await id in try await connection.rows("INSERT INTO auth.users (phone) VALUES ($1) RETURNING id", [phone]).decode(UUID.self) {
                return id
            }
            throw APIError.notFound("no user")
        }
        return Caller(role: .authenticated, userID: id, claimsJSON: #"{"sub":"\#(id.uuidString.lowercased())","role":"authenticated"}"#)
    }

    /// A user who is an active admin holding `roles` (standing grants), with the test secret.
    func admin(_ roles: [AdminRole]) async throws -> Caller {
        let caller = try await user()
        let id = caller.userID!
        try await database.withOwner { connection in
            try await connection.execute("INSERT INTO admin.admin_users (user_id, totp_secret) VALUES ($1, $2)", [id, Data(Self.secret)])
            for role in roles {
                try await connection.execute(
                    "INSERT INTO admin.role_grants (user_id, role, kind, reason) VALUES ($1, $2, 'standing', 'test')", [id, role.rawValue])
            }
        }
        return caller
    }

    /// The authenticator's code at the clock's time (`steps` later or earlier).
    func code(steps: Int64 = 0) -> String {
        TOTP.code(secret: Self.secret, step: TOTP.step(at: clock.now) + steps)
    }

    /// An admin session for `caller`, opened with the current code; moves the clock one step on
    /// so the next opening has a fresh code.
    func session(_ caller: Caller) async throws -> AdminSession {
        let opened = try await admin.openSession(caller, code: code(), requestID: "test-\(UUID().uuidString.prefix(8))")
        clock.advance(seconds: 30)
        return try await admin.session(caller, token: opened.token, requestID: "test")
    }

    /// nil when `body` succeeded, else the API error's code (or the error described).
    static func outcome(_ body: () async throws -> Void) async -> String? {
        do {
            try await body()
            return nil
        } catch let error as APIError {
            return error.code
        } catch {
            return "\(error)"
        }
    }

    /// Audit rows as (action, outcome, actor), oldest first.
    func audit() async throws -> [(action: String, outcome: String, actor: UUID?)] {
        try await database.withOwner { connection in
            var rows: [(String, String, UUID?)] = []
            for try await row in try await connection.rows("SELECT action, outcome, actor FROM admin.audit_log ORDER BY seq", []).decode(
                (String, String, UUID?).self)
            {
                rows.append(row)
            }
            return rows.map { (action: $0.0, outcome: $0.1, actor: $0.2) }
        }
    }
}

/// A clock the tests move by hand.
final class TestClock: @unchecked Sendable {
    private let lock = NSLock()
    private var current: Date

    init(_ start: Date) { current = start }

    var now: Date { lock.withLock { current } }

    func advance(seconds: TimeInterval) { lock.withLock { current = current.addingTimeInterval(seconds) } }
}
