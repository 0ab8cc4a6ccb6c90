import Database
import Foundation
import PostgresNIO

/// A job a worker holds: its lease is good while `attemptID` is still the job's attempt.
struct ClaimedReelJob: Sendable, Equatable {
    var jobID: UUID
    var reelID: UUID
    var attemptID: UUID
    /// The attempt before this one (a worker that died or was stopped), whose outputs are
    /// removed before starting.
    var previousAttemptID: UUID?
    var attempts: Int
    var maxAttempts: Int
    var authorID: UUID
    var originalPath: String

    /// `<reel id>/<attempt id>`: where this attempt's outputs go in `reels-media`.
    var mediaPrefix: String { Self.prefix(reelID, attemptID) }

    static func prefix(_ reel: UUID, _ attempt: UUID) -> String {
        reel.uuidString.lowercased() + "/" + attempt.uuidString.lowercased()
    }
}

/// What a finished attempt records on the reel.
struct ReelJobResult: Sendable {
    var renditions: [String]
    var durationMs: Int
    var width: Int
    var height: Int
}

/// The job held was taken over by another worker (its lease expired) or removed with its reel.
struct LostReelJobLease: Error, CustomStringConvertible {
    var description: String { "the job's lease was lost" }
}

/// `reels.jobs` as the worker uses it (SQL as the owner; migration 0019): claim with
/// `FOR UPDATE SKIP LOCKED` (a due queued job or a running one whose lease expired),
/// heartbeats that extend the lease, completion with the reel's ready transition in one
/// transaction, failure with exponential backoff up to `max_attempts` then the dead letter
/// (the reel `failed` with the reason), and release at shutdown.
struct ReelJobsQueue: Sendable {
    let database: Database
    var leaseSeconds: Int
    var retryBaseSeconds: Int

    /// Claims one due job for `worker` and marks its reel processing; nil when none is due.
    func claim(worker: String) async throws -> ClaimedReelJob? {
        try await database.withOwner { connection in
            let rows = try await connection.rows(
                """
                WITH next AS (
                    SELECT id, attempt_id AS previous FROM reels.jobs
                    WHERE (state = 'queued' AND run_after <= now()) OR (state = 'running' AND lease_until < now())
                    ORDER BY run_after, created_at
                    LIMIT 1 FOR UPDATE SKIP LOCKED
                )
                UPDATE reels.jobs j SET state = 'running', attempts = j.attempts + 1, attempt_id = gen_random_uuid(),
                    lease_until = now() + make_interval(secs => $2), heartbeat_at = now(), worker_id = $1, updated_at = now()
                FROM next WHERE j.id = next.id
                RETURNING j.id, j.reel_id, j.attempt_id, next.previous, j.attempts, j.max_attempts
                """,
                [worker, Double(leaseSeconds)])
            var claimed: (UUID, UUID, UUID, UUID?, Int, Int)?
            for try await row in rows.decode((UUID, UUID, UUID, UUID?, Int, Int).self) { claimed = row }
            guard let (jobID, reelID, attemptID, previous, attempts, maxAttempts) = claimed else { return nil }
            var reel: (UUID, String)?
            for try await row in try await connection.rows(
                """
                UPDATE reels.reels SET state = 'processing', progress = 0, failure_reason = NULL, updated_at = now()
                WHERE id = $1 RETURNING author_id, original_path
                """, [reelID]
            ).decode((UUID, String).self) { reel = row }
            guard let (author, original) = reel else { return nil }
            return ClaimedReelJob(
                jobID: jobID, reelID: reelID, attemptID: attemptID, previousAttemptID: previous, attempts: attempts, maxAttempts: maxAttempts,
                authorID: author, originalPath: original)
        }
    }

    /// Extends the lease; false when the job is no longer this attempt's.
    func heartbeat(_ job: ClaimedReelJob) async throws -> Bool {
        try await database.withOwner { connection in
            try await connection.exists(
                """
                UPDATE reels.jobs SET lease_until = now() + make_interval(secs => $3), heartbeat_at = now(), updated_at = now()
                WHERE id = $1 AND attempt_id = $2 AND state = 'running' RETURNING 1
                """, [job.jobID, job.attemptID, Double(leaseSeconds)])
        }
    }

    /// Marks the job done and the reel ready with its outputs and the moderation decision,
    /// in one transaction; throws ``LostReelJobLease`` (and changes nothing) when the job is
    /// no longer this attempt's. Returns the moderation the reel got.
    @discardableResult
    func complete(_ job: ClaimedReelJob, result: ReelJobResult) async throws -> String {
        try await database.withOwner { connection in
            guard try await connection.exists(
                """
                UPDATE reels.jobs SET state = 'done', lease_until = NULL, finished_at = now(), last_error = NULL, updated_at = now()
                WHERE id = $1 AND attempt_id = $2 AND state = 'running' RETURNING 1
                """, [job.jobID, job.attemptID])
            else { throw LostReelJobLease() }
            var settings: (String, [String], [String])?
            for try await row in try await connection.rows(ModerationPolicy.settingsSQL, []).decode((String, [String], [String]).self) {
                settings = row
            }
            var caption = ""
            for try await text in try await connection.rows("SELECT caption FROM reels.reels WHERE id = $1 FOR UPDATE", [job.reelID]).decode(String.self) {
                caption = text
            }
            let policy = ModerationPolicy(
                mode: settings.flatMap { ModerationPolicy.Mode(rawValue: $0.0) } ?? .manual,
                blocklist: Set((settings?.1 ?? []).map { $0.lowercased() }), blockedHashtags: Set(settings?.2 ?? []))
            let decision = policy.decide(caption: caption)
            var moderation = decision.moderation
            for try await value in try await connection.rows(
                """
                UPDATE reels.reels SET media_prefix = $2, renditions = $3, duration_ms = $4, width = $5, height = $6,
                    state = 'ready', progress = 100, failure_reason = NULL, ready_at = now(), updated_at = now(),
                    moderation = CASE WHEN moderation = 'rejected' THEN moderation ELSE $7 END,
                    moderation_reason = CASE WHEN moderation = 'rejected' THEN moderation_reason ELSE $8 END
                WHERE id = $1 RETURNING moderation
                """,
                [job.reelID, job.mediaPrefix, result.renditions, result.durationMs, result.width, result.height, decision.moderation, decision.reason]
            ).decode(String.self) { moderation = value }
            return moderation
        }
    }

    /// Records a failed attempt: back to `queued` after an exponential delay while attempts
    /// remain and the error is retryable, else `dead` with the reason and the reel `failed`.
    /// Returns true when the job is dead; throws ``LostReelJobLease`` when it was not ours.
    @discardableResult
    func fail(_ job: ClaimedReelJob, reason: String, diagnostics: String, retryable: Bool) async throws -> Bool {
        try await database.withOwner { connection in
            var state: String?
            for try await value in try await connection.rows(
                """
                UPDATE reels.jobs SET
                    state = CASE WHEN $3 AND attempts < max_attempts THEN 'queued' ELSE 'dead' END,
                    run_after = now() + make_interval(secs => least($4 * power(2, greatest(attempts - 1, 0)), 3600)),
                    lease_until = NULL, last_error = left($5, 2000), updated_at = now(),
                    finished_at = CASE WHEN $3 AND attempts < max_attempts THEN NULL ELSE now() END
                WHERE id = $1 AND attempt_id = $2 AND state = 'running' RETURNING state
                """,
                [job.jobID, job.attemptID, retryable, Double(retryBaseSeconds), diagnostics.isEmpty ? reason : reason + ": " + diagnostics]
            ).decode(String.self) { state = value }
            guard let state else { throw LostReelJobLease() }
            if state == "dead" {
                try await connection.execute(
                    "UPDATE reels.reels SET state = 'failed', failure_reason = left($2, 500), progress = 0, updated_at = now() WHERE id = $1",
                    [job.reelID, reason])
            } else {
                try await connection.execute("UPDATE reels.reels SET progress = 0, updated_at = now() WHERE id = $1", [job.reelID])
            }
            return state == "dead"
        }
    }

    /// Dead-letters a job claimed after its last attempt's worker was lost (it never
    /// reported), so it is not retried forever.
    func abandon(_ job: ClaimedReelJob) async throws {
        try await fail(
            job, reason: "the video could not be processed",
            diagnostics: "\(job.attempts - 1) attempts ended without a result (worker lost)", retryable: false)
    }

    /// Gives the job back at shutdown: queued again at once, this attempt not counted.
    func release(_ job: ClaimedReelJob) async throws {
        try await database.withOwner { connection in
            try await connection.execute(
                """
                UPDATE reels.jobs SET state = 'queued', attempts = greatest(attempts - 1, 0), lease_until = NULL,
                    run_after = now(), worker_id = NULL, updated_at = now()
                WHERE id = $1 AND attempt_id = $2 AND state = 'running'
                """, [job.jobID, job.attemptID])
        }
    }
}
