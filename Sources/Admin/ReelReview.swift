import Foundation
import PostgresNIO

/// The seam through which moderators review reels: implemented over the reels module by the
/// composition root, so the admin module never reads the reels tables itself.
public protocol ReelReview: Sendable {
    /// One page of a queue (`pending` or `reported`), as a JSON array, older than `before`.
    func queue(_ name: String, limit: Int, before: Date?) async throws -> Data
    /// Approves or rejects a ready reel on `connection` (the admin's transaction, so the audit
    /// row commits with it); false when there is no such reel.
    func decide(reel: UUID, approve: Bool, reason: String?, moderator: UUID, on connection: PostgresConnection) async throws -> Bool
}
