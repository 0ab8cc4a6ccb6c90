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
    /// Settles a ready reel's reports without changing whether it is shown, on `connection`:
    /// its author, or nil when there is no such reel.
    func warn(reel: UUID, moderator: UUID, on connection: PostgresConnection) async throws -> UUID?
    /// The reels side of the dashboard as a JSON object: queue sizes and the arbiter's state.
    func summary() async throws -> Data
    /// The hashtag blocklist as a JSON array.
    func blockedHashtags() async throws -> Data
    /// Blocks a hashtag (throws 400 naming `tag` when it is none) on `connection`: the
    /// normalised tag and how many reels went back to review; nil when blocked already.
    func block(hashtag: String, reason: String, moderator: UUID, on connection: PostgresConnection) async throws -> (tag: String, held: Int)?
    /// Unblocks a hashtag on `connection`: the normalised tag, nil when it was not blocked.
    func unblock(hashtag: String, on connection: PostgresConnection) async throws -> String?
}
