import Database
import Foundation
import Logging
import PostgresNIO

/// One evaluation of the arbiter, journaled at most once per window.
///
/// In one owner transaction: lock the state row (`FOR UPDATE`: a second arbiter waits here),
/// return the window's journal row if one exists, else read the inputs, decide with the
/// ``ArbiterPolicy``, insert the journal row (`ON CONFLICT (idempotency_key) DO NOTHING`) and
/// write the state with an UPDATE guarded by the previous evaluation's key — so two arbiters,
/// or a retry of the same window, never journal twice nor lose a state change.
public struct ArbiterEvaluator: Sendable {
    public let database: Database
    public let settings: ArbiterSettings
    public let clock: any ArbiterClock
    public let source: any ArbiterInputSource
    /// Names this instance in the journal (`host:pid` by default).
    public let instance: String

    public init(
        database: Database, settings: ArbiterSettings, clock: any ArbiterClock = SystemArbiterClock(),
        source: (any ArbiterInputSource)? = nil, instance: String? = nil
    ) {
        self.database = database
        self.settings = settings
        self.clock = clock
        self.source = source ?? DatabaseArbiterInputs(trafficWindowSeconds: settings.trafficWindowSeconds)
        self.instance = instance ?? "\(ProcessInfo.processInfo.hostName):\(ProcessInfo.processInfo.processIdentifier)"
    }

    /// What an evaluation found or decided.
    public struct Result: Sendable, Equatable {
        public var key: String
        public var decision: ArbiterDecision
        public var state: ArbiterState
        public var inputs: ArbiterInputs
        /// False when the window was already journaled (by another instance or an earlier try):
        /// then `decision` and `inputs` are that journal row's.
        public var journaled: Bool
    }

    /// The guarded state update found the state changed under it (cannot happen while the row
    /// lock is held; kept as the last line of defence). The transaction is rolled back.
    public struct StateConflict: Error, CustomStringConvertible {
        public var description: String { "reels.arbiter_state changed during the evaluation" }
    }

    /// The journal key of the window holding `date`: `window:<window start, Unix seconds>`.
    public static func key(for date: Date, intervalSeconds: Int) -> String {
        let interval = max(1, intervalSeconds)
        let seconds = Int(floor(date.timeIntervalSince1970))
        let start = seconds - ((seconds % interval) + interval) % interval
        return "window:\(start)"
    }

    /// Evaluates the current window.
    public func evaluate() async throws -> Result {
        let now = clock.now()
        let key = Self.key(for: now, intervalSeconds: settings.intervalSeconds)
        let policy = settings.policy
        return try await database.withOwner { connection in
            let (previous, previousKey) = try await lockedState(on: connection)
            if let done = try await journaled(key, state: previous, on: connection) {
                return done
            }
            let inputs = try await source.inputs(on: connection, now: now)
            let outcome = policy.decide(state: previous, inputs: inputs, now: now)
            let inputsJSON = String(decoding: try JSONEncoder().encode(inputs), as: UTF8.self)
            let inserted = try await connection.exists(
                """
                INSERT INTO reels.arbiter_journal (idempotency_key, decision, suppressed, inputs, reason, instance, decided_at)
                VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7)
                ON CONFLICT (idempotency_key) DO NOTHING RETURNING id
                """,
                [key, outcome.decision.rawValue, outcome.state.suppressed, inputsJSON, Self.clip(outcome.state.reason), instance, now])
            guard inserted else {
                return Result(key: key, decision: outcome.decision, state: previous, inputs: inputs, journaled: false)
            }
            let updated = try await connection.exists(
                """
                UPDATE reels.arbiter_state
                SET suppressed = $1, since = $2, green_since = $3, updated_at = $4, reason = $5, last_key = $6
                WHERE id = 1 AND last_key IS NOT DISTINCT FROM $7 AND suppressed = $8
                RETURNING id
                """,
                [outcome.state.suppressed, outcome.state.since, outcome.state.greenSince, now, Self.clip(outcome.state.reason), key,
                 previousKey, previous.suppressed])
            guard updated else { throw StateConflict() }
            return Result(key: key, decision: outcome.decision, state: outcome.state, inputs: inputs, journaled: true)
        }
    }

    /// The state row, locked for this transaction, and the key of the evaluation that wrote it.
    private func lockedState(on connection: PostgresConnection) async throws -> (ArbiterState, String?) {
        for try await (suppressed, since, greenSince, updatedAt, reason, lastKey) in try await connection.rows(
            "SELECT suppressed, since, green_since, updated_at, reason, last_key FROM reels.arbiter_state WHERE id = 1 FOR UPDATE", []
        ).decode((Bool, Date, Date?, Date, String, String?).self) {
            return (ArbiterState(suppressed: suppressed, since: since, greenSince: greenSince, updatedAt: updatedAt, reason: reason), lastKey)
        }
        // The row is seeded by migration 0022; recreate it (clear) if an operator deleted it.
        try await connection.execute("INSERT INTO reels.arbiter_state (id) VALUES (1) ON CONFLICT (id) DO NOTHING", [])
        return try await lockedState(on: connection)
    }

    /// The window's journal row, if it was already written.
    private func journaled(_ key: String, state: ArbiterState, on connection: PostgresConnection) async throws -> Result? {
        for try await (decision, inputsText) in try await connection.rows(
            "SELECT decision, inputs::text FROM reels.arbiter_journal WHERE idempotency_key = $1", [key]
        ).decode((String, String).self) {
            let inputs = (try? JSONDecoder().decode(ArbiterInputs.self, from: Data(inputsText.utf8))) ?? ArbiterInputs()
            return Result(key: key, decision: ArbiterDecision(rawValue: decision) ?? (state.suppressed ? .keepSuppressed : .keepClear),
                          state: state, inputs: inputs, journaled: false)
        }
        return nil
    }

    /// Reasons fit the 500-character columns.
    static func clip(_ text: String) -> String { String(text.prefix(500)) }
}
