import Foundation
import PostgresNIO

/// The transcoding job queue (`reels.jobs`, migration 0019; docs/reels.md "Pipeline").
///
/// A job is queued in the same transaction that creates its reel; the insert wakes the
/// workers through `NOTIFY reels_jobs`. Claims, leases, retries and the dead letter are
/// ``ReelJobQueue``'s.
public enum ReelJobs {
    /// Queues the transcoding of `reel` on `connection` (inside the caller's transaction, as
    /// the owner). A reel that already has a live (queued or running) job gets no second one.
    public static func enqueue(reel: UUID, on connection: PostgresConnection) async throws {
        try await connection.execute(
            """
            INSERT INTO reels.jobs (reel_id) VALUES ($1)
            ON CONFLICT (reel_id) WHERE state IN ('queued', 'running') DO NOTHING
            """,
            [reel])
    }
}
