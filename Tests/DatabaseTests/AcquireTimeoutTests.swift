import Core
import Database
import Foundation
import Logging
import NIOConcurrencyHelpers
import PostgresNIO
import Testing
import TestSupport

/// A request waits a bounded time for a connection, and what timed out never runs.
@Suite struct AcquireTimeoutTests {
    @Test func aSaturatedPoolAnswers503WithinTheTimeoutAndTheWorkNeverRuns() async throws {
        try await Self.whileEveryConnectionIsHeld(seconds: 6, acquireTimeout: .milliseconds(500)) { database, ran in
            let started = ContinuousClock.now
            do {
                try await database.withOwner { _ in ran.withLockedValue { $0 = true } }
                Issue.record("the transaction ran although every connection was busy")
            } catch let error as APIError {
                #expect(error.status == .serviceUnavailable)
                #expect(error.code == "database_unavailable")
                #expect(error.retryAfterSeconds == 2)
            }
            let waited = ContinuousClock.now - started
            // It waited for the timeout, and the 503 above shows it gave up before the holders
            // let go (it would have run then). No upper bound on the clock: a loaded test run
            // once took over 3 s to deliver the timeout's answer.
            #expect(waited >= .milliseconds(450), "waited \(waited)")
        }
    }

    @Test func aTransactionThatBeganInTimeRunsPastTheTimeout() async throws {
        try await TestDatabase.withDatabase { shared in
            // A connection ready in the pool, so the short deadline measures waiting, not connecting.
            try await shared.withOwner { connection in _ = try await connection.query("SELECT 1", logger: shared.logger) }
            let database = Database(client: shared.client, maximumConnections: 8, acquireTimeout: .milliseconds(500), logger: shared.logger)
            let value = try await database.withOwner { connection in
                _ = try await connection.query("SELECT pg_sleep(1.2)", logger: database.logger)
                return 42
            }
            #expect(value == 42)
        }
    }

    @Test func aCallerThatGivesUpStopsWaitingAndItsWorkNeverRuns() async throws {
        try await Self.whileEveryConnectionIsHeld(seconds: 4, acquireTimeout: .seconds(5)) { database, ran in
            let started = ContinuousClock.now
            let caller = Task { try await database.withOwner { _ in ran.withLockedValue { $0 = true } } }
            try await Task.sleep(for: .milliseconds(200))
            caller.cancel()
            let outcome = await caller.result
            let waited = ContinuousClock.now - started
            // Had the cancellation not reached the queued request, it would have got a
            // connection when the holders let go (~2.3 s later) and run.
            switch outcome {
            case .success:
                Issue.record("the cancelled caller's transaction ran (after \(waited))")
            case .failure(let error):
                #expect(!(error is APIError), "a cancelled caller is not told the database is unavailable: \(error)")
            }
        }
    }

    /// Runs `attempt` while eight transactions (the test pool's connections) sleep `seconds`,
    /// 1.5 s after they started: time for all eight to get their connection, also on a busy
    /// machine. `attempt` gets a `Database` on the same client with `acquireTimeout`, and a
    /// flag for its work to set if it runs. Once the eight have ended, the work must still not
    /// have run: it never got a connection.
    private static func whileEveryConnectionIsHeld(
        seconds: Int, acquireTimeout: Duration, _ attempt: @Sendable (Database, NIOLockedValueBox<Bool>) async throws -> Void
    ) async throws {
        try await TestDatabase.withDatabase { shared in
            let database = Database(client: shared.client, maximumConnections: 8, acquireTimeout: acquireTimeout, logger: shared.logger)
            let ran = NIOLockedValueBox(false)
            try await withThrowingTaskGroup(of: Void.self) { holders in
                for _ in 0..<8 {
                    holders.addTask {
                        // The default (5 s) deadline: creating eight connections may be slow.
                        try await shared.withOwner { connection in
                            _ = try await connection.query("SELECT pg_sleep(\(seconds))", logger: shared.logger)
                        }
                    }
                }
                try await Task.sleep(for: .milliseconds(1500))
                try await attempt(database, ran)
                try await holders.waitForAll()
            }
            try await Task.sleep(for: .milliseconds(200))
            #expect(!ran.withLockedValue { $0 }, "the transaction that got no connection ran later")
        }
    }
}
