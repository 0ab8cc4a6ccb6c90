import Database
import Foundation
import PostgresNIO

/// The progress of each 1:1 call placed from a conversation (`calls.call_outcomes`,
/// migration 0017): invited, answered, ended. Every instance writes the same rows, and an
/// end is recorded once (`ended_at` is set only while NULL), so however many devices or
/// instances see a call end, one of them gets its ``CallEvent``.
struct CallOutcomeTracker: Sendable {
    let database: Database

    /// Unanswered calls older than this end as missed in the sweep (the web client stops
    /// ringing after 45 s).
    static let ringingLimitSeconds = 120

    /// Starts tracking a call the caller has just invited `callee` to: only a room the caller
    /// created for exactly the two of them, with a conversation. A repeated invite changes nothing.
    func invited(call: UUID, room: UUID, caller: UUID, callee: UUID, video: Bool) async throws {
        try await database.withOwner { connection in
            try await connection.execute("""
                INSERT INTO calls.call_outcomes (call_id, room_id, conversation_id, caller_id, callee_id, video)
                SELECT r.call_id, r.id, r.conversation_id, $3, $4, $5 FROM calls.rooms r
                WHERE r.id = $2 AND r.call_id = $1 AND r.created_by = $3 AND r.conversation_id IS NOT NULL
                  AND r.closed_at IS NULL AND cardinality(r.allowed_user_ids) = 2 AND $4 = ANY (r.allowed_user_ids)
                ON CONFLICT (call_id) DO NOTHING
                """, [call, room, caller, callee, video])
        }
    }

    /// The callee answered (once; not after the call ended).
    func accepted(call: UUID, callee: UUID, caller: UUID) async throws {
        try await database.withOwner { connection in
            try await connection.execute("""
                UPDATE calls.call_outcomes SET accepted_at = now()
                WHERE call_id = $1 AND callee_id = $2 AND caller_id = $3 AND accepted_at IS NULL AND ended_at IS NULL
                """, [call, callee, caller])
        }
    }

    /// Ends the call as `user` reports it, unless it already ended. An answered call ends
    /// as `ended` when `endsAnswered`; an unanswered one as `ifCaller` / `ifCallee` by who
    /// reports it (nil: that side cannot end it this way). The event when this report ended it.
    func ended(
        call: UUID, by user: UUID, ifCaller: CallOutcome?, ifCallee: CallOutcome?, endsAnswered: Bool
    ) async throws -> CallEvent? {
        try await database.withOwner { connection in
            let rows = try await connection.rows("""
                UPDATE calls.call_outcomes o SET ended_at = now(),
                    outcome = CASE WHEN o.accepted_at IS NOT NULL THEN 'ended' WHEN o.caller_id = $2 THEN $3 ELSE $4 END
                WHERE o.call_id = $1 AND o.ended_at IS NULL
                  AND ((o.caller_id = $2 AND $3::text IS NOT NULL) OR (o.callee_id = $2 AND $4::text IS NOT NULL))
                  AND ($5 OR o.accepted_at IS NULL)
                RETURNING \(Self.eventColumns)
                """, [call, user, ifCaller?.rawValue, ifCallee?.rawValue, endsAnswered])
            return try await Self.events(rows).first
        }
    }

    /// Ends the calls nobody reported the end of: unanswered ones ringing too long (missed)
    /// and answered ones whose room has closed (ended when the room emptied).
    func sweep() async throws -> [CallEvent] {
        try await database.withOwner { connection in
            let rows = try await connection.rows("""
                UPDATE calls.call_outcomes o
                SET ended_at = CASE WHEN o.accepted_at IS NULL THEN now() ELSE greatest(o.accepted_at, coalesce(r.empty_since, now())) END,
                    outcome = CASE WHEN o.accepted_at IS NULL THEN 'missed' ELSE 'ended' END
                FROM calls.rooms r
                WHERE r.id = o.room_id AND o.ended_at IS NULL
                  AND ((o.accepted_at IS NULL AND o.invited_at < now() - make_interval(secs => $1)) OR r.closed_at IS NOT NULL)
                RETURNING \(Self.eventColumns)
                """, [Self.ringingLimitSeconds])
            return try await Self.events(rows)
        }
    }

    private static let eventColumns = """
        o.call_id, o.conversation_id, o.caller_id, o.callee_id, o.video, o.outcome,
        CASE WHEN o.outcome = 'ended' THEN greatest(0, round(extract(epoch FROM o.ended_at - o.accepted_at)))::integer END
        """

    private static func events(_ rows: PostgresRowSequence) async throws -> [CallEvent] {
        var events: [CallEvent] = []
        for try await (call, conversation, caller, callee, video, outcome, duration) in rows.decode((UUID, UUID, UUID, UUID, Bool, String, Int?).self) {
            guard let outcome = CallOutcome(rawValue: outcome) else { continue }
            events.append(CallEvent(
                callID: call, conversationID: conversation, callerID: caller, calleeID: callee, video: video, outcome: outcome,
                durationSeconds: duration))
        }
        return events
    }
}
