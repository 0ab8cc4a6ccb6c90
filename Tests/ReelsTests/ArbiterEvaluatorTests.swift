import Core
import Database
import Foundation
import Logging
import Testing
import TestSupport
@testable import Reels

/// The arbiter against the database: the journal is idempotent per window (retries and
/// concurrent arbiters write one row), the state row follows the decisions, the feed's seam
/// and the operators' RPC read it, and the inputs come from the reels tables.
@Suite struct ArbiterEvaluatorTests {
    static let service = Caller(role: .serviceRole, claimsJSON: #"{"role":"service_role"}"#)

    func evaluator(_ db: Database, _ clock: ManualArbiterClock, _ source: StubArbiterInputs, instance: String = "a") -> ArbiterEvaluator {
        var settings = ArbiterSettings()
        settings.intervalSeconds = 60
        return ArbiterEvaluator(database: db, settings: settings, clock: clock, source: source, instance: instance)
    }

    func journal(_ db: Database) async throws -> [(String, String, String)] {
        try await db.withOwner { connection in
            var rows: [(String, String, String)] = []
            for try await row in try await connection.rows(
                "SELECT idempotency_key, decision, instance FROM reels.arbiter_journal ORDER BY decided_at, id", []
            ).decode((String, String, String).self) {
                rows.append(row)
            }
            return rows
        }
    }

    func feedSuppressed(_ db: Database, as caller: Caller) async throws -> Bool {
        try await db.withCaller(caller) { connection in
            try await connection.scalarText("SELECT reels.feed_suppressed()::text", []) == "true"
        }
    }

    @Test func theSameWindowTwiceJournalsOnce() async throws {
        try await TestDatabase.withDatabase { db in
            let clock = ManualArbiterClock()
            let source = StubArbiterInputs()
            source.set(lag: 1000)
            let arbiter = evaluator(db, clock, source)
            let first = try await arbiter.evaluate()
            #expect(first.journaled && first.decision == .suppress && first.state.suppressed)
            // A retry in the same window (the inputs changed meanwhile): nothing new is written.
            source.set(lag: 0)
            clock.advance(10)
            let retry = try await arbiter.evaluate()
            #expect(!retry.journaled)
            #expect(retry.decision == .suppress && retry.key == first.key && retry.state.suppressed)
            #expect(retry.inputs.eventLagSeconds == 1000)
            #expect(try await journal(db).map(\.0) == [first.key])
            // The next window is a new decision.
            clock.advance(60)
            let next = try await arbiter.evaluate()
            #expect(next.journaled && next.decision == .keepSuppressed && next.state.greenSince == clock.now())
            #expect(try await journal(db).count == 2)
        }
    }

    @Test func twoConcurrentArbitersJournalEachWindowOnce() async throws {
        try await TestDatabase.withDatabase { db in
            let clock = ManualArbiterClock()
            let source = StubArbiterInputs()
            let arbiters = [evaluator(db, clock, source, instance: "one"), evaluator(db, clock, source, instance: "two")]
            var decisions: [ArbiterDecision] = []
            for minute in 0..<20 {
                source.set(lag: minute < 2 ? 1000 : 0)
                let results = try await withThrowingTaskGroup(of: ArbiterEvaluator.Result.self) { group in
                    for arbiter in arbiters {
                        for _ in 0..<3 { group.addTask { try await arbiter.evaluate() } }
                    }
                    var results: [ArbiterEvaluator.Result] = []
                    for try await result in group { results.append(result) }
                    return results
                }
                // Exactly one of the six journaled; all six report the same decision and state.
                #expect(results.filter(\.journaled).count == 1)
                #expect(Set(results.map(\.decision)).count == 1)
                #expect(Set(results.map(\.state.suppressed)).count == 1)
                decisions.append(results[0].decision)
                clock.advance(60)
            }
            let rows = try await journal(db)
            #expect(rows.count == 20)
            #expect(Set(rows.map(\.0)).count == 20)
            #expect(Set(rows.map(\.2)).isSubset(of: ["one", "two"]))
            // Suppressed at minute 0, green from minute 2, cleared 12 minutes later (minute 14).
            #expect(decisions[0] == .suppress)
            #expect(decisions[1...13].allSatisfy { $0 == .keepSuppressed })
            #expect(decisions[14] == .clear)
            #expect(decisions[15...].allSatisfy { $0 == .keepClear })
        }
    }

    @Test func theStateRowTheFeedAndTheRPCFollowTheDecisions() async throws {
        try await TestDatabase.withDatabase { db in
            let viewer = try await ReelsFixture.user(db)
            #expect(try await !feedSuppressed(db, as: viewer))
            let clock = ManualArbiterClock()
            let source = StubArbiterInputs()
            source.set(lag: 900, impressions: 3)
            _ = try await evaluator(db, clock, source).evaluate()
            #expect(try await feedSuppressed(db, as: viewer))
            #expect(try await feedSuppressed(db, as: Self.service))

            var settings = ArbiterSettings()
            settings.intervalSeconds = 60
            let arbiter = ReelsArbiter(database: db, settings: settings, clock: clock, logger: Logger(label: "test"))
            let rpc = try #require(arbiter.rpcFunctions.first { $0.name == "get_reels_arbiter_state" })
            guard case .json(let data) = try await rpc.handler(RPCCall(name: rpc.name, arguments: Data("{}".utf8), caller: Self.service))
            else { Issue.record("no JSON"); return }
            let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            #expect(object["suppressed"] as? Bool == true)
            #expect((object["reason"] as? String)?.contains("900 s ≥ 900 s") == true)
            let recent = try #require(object["recent"] as? [[String: Any]])
            #expect(recent.count == 1)
            #expect(recent.first?["decision"] as? String == "suppress")
            #expect((recent.first?["inputs"] as? [String: Any])?["impressions"] as? Int == 3)
            // Signed-in users get the feed's boolean, not the state.
            await #expect(throws: APIError.self) {
                _ = try await rpc.handler(RPCCall(name: rpc.name, arguments: Data("{}".utf8), caller: viewer))
            }
            await #expect(throws: (any Error).self) {
                try await db.withCaller(viewer) { connection in
                    try await connection.execute("SELECT * FROM reels.arbiter_state", [])
                }
            }
            await #expect(throws: (any Error).self) {
                try await db.withCaller(Self.service) { connection in
                    try await connection.execute("UPDATE reels.arbiter_state SET suppressed = false", [])
                }
            }
        }
    }

    @Test func inputsComeFromImpressionsViewsAndJobs() async throws {
        try await TestDatabase.withDatabase { db in
            // A whole second: PostgreSQL keeps microseconds, and a time with more digits could come
            // back a microsecond later than written, a 60 s lag then reading 59 (seen once in a
            // clean-clone run of .ci/run here).
            let clock = ManualArbiterClock(Date(timeIntervalSinceReferenceDate: Date().timeIntervalSinceReferenceDate.rounded(.down)))
            let now = clock.now()
            let source = DatabaseArbiterInputs(trafficWindowSeconds: 300)
            func read() async throws -> ArbiterInputs {
                try await db.withOwner { connection in try await source.inputs(on: connection, now: now) }
            }
            #expect(try await read() == ArbiterInputs(trafficWindowSeconds: 300))

            // One author per reel: an original makes one reel.
            let viewer = try await ReelsFixture.user(db)
            let reel = try await ReelsFixture.reel(db, author: try await ReelsFixture.user(db))
            let other = try await ReelsFixture.reel(db, author: try await ReelsFixture.user(db), state: "processing")
            let third = try await ReelsFixture.reel(db, author: try await ReelsFixture.user(db), state: "uploaded")
            let done = try await ReelsFixture.reel(db, author: try await ReelsFixture.user(db))
            try await db.withOwner { connection in
                // Impressions 20 min, 4 min and 1 min ago; a view 2 min ago.
                for minutes in [20.0, 4, 1] {
                    try await connection.execute(
                        "INSERT INTO reels.impressions (reel_id, user_id, created_at) VALUES ($1, $2, $3)",
                        [reel, viewer.userID, now.addingTimeInterval(-minutes * 60)])
                }
                try await connection.execute(
                    "INSERT INTO reels.views (reel_id, user_id, watched_ms, created_at) VALUES ($1, $2, 5000, $3)",
                    [reel, viewer.userID, now.addingTimeInterval(-120)])
                // Jobs: running for 7 min, queued 2 min ago, one done long ago (not counted).
                let jobs: [(UUID, String, Double)] = [(other, "running", 420), (third, "queued", 120), (done, "done", 7200)]
                for (reelID, state, age) in jobs {
                    try await connection.execute(
                        "INSERT INTO reels.jobs (reel_id, state, created_at) VALUES ($1, $2, $3)",
                        [reelID, state, now.addingTimeInterval(-age)])
                }
            }
            let inputs = try await read()
            #expect(inputs.impressions == 2)
            #expect(inputs.viewsArriving)
            #expect(inputs.impressionLagSeconds == 60)
            #expect(inputs.queueDepth == 2)
            #expect(inputs.oldestJobAgeSeconds == 420)
            #expect(inputs.eventLagSeconds == 420)
            #expect(inputs.missing.isEmpty)

            // Views still arriving while impressions stop: the impression lag grows with the clock.
            let later = now.addingTimeInterval(1000)
            try await db.withOwner { connection in
                try await connection.execute(
                    "INSERT INTO reels.views (reel_id, user_id, watched_ms, created_at) VALUES ($1, $2, 5000, $3)",
                    [reel, viewer.userID, later.addingTimeInterval(-10)])
            }
            let stalled = try await db.withOwner { connection in try await source.inputs(on: connection, now: later) }
            #expect(stalled.impressions == 0)
            #expect(stalled.impressionLagSeconds == 1060)
            #expect(stalled.eventLagSeconds == 1420)
            let policy = ArbiterSettings().policy
            let state = ArbiterState(suppressed: false, since: now, updatedAt: now)
            #expect(policy.decide(state: state, inputs: stalled, now: later).decision == .suppress)
        }
    }
}
