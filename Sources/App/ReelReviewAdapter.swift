import Admin
import Core
import Foundation
import PostgresNIO
import Reels

/// The admin console's reels review seam (``ReelReview``) over the reels module's
/// ``ReelsModeration``: the one place that knows both.
struct ReelReviewAdapter: ReelReview {
    let moderation: ReelsModeration

    func queue(_ name: String, limit: Int, before: Date?) async throws -> Data {
        guard let queue = ReelsModeration.Queue(rawValue: name) else { throw APIError.invalidField("queue", "must be pending or reported") }
        return try JSONBody.encoder.encode(try await moderation.queue(queue, limit: limit, before: before))
    }

    func decide(reel: UUID, approve: Bool, reason: String?, moderator: UUID, on connection: PostgresConnection) async throws -> Bool {
        try await moderation.decide(reel: reel, approve: approve, reason: reason, moderator: moderator, on: connection)
    }

    func warn(reel: UUID, moderator: UUID, on connection: PostgresConnection) async throws -> UUID? {
        try await moderation.settleReports(reel: reel, moderator: moderator, on: connection)
    }

    func summary() async throws -> Data {
        try await moderation.summary()
    }

    func blockedHashtags() async throws -> Data {
        try await moderation.blockedHashtags()
    }

    func block(hashtag: String, reason: String, moderator: UUID, on connection: PostgresConnection) async throws -> (tag: String, held: Int)? {
        try await moderation.block(hashtag: hashtag, reason: reason, moderator: moderator, on: connection)
    }

    func unblock(hashtag: String, on connection: PostgresConnection) async throws -> String? {
        try await moderation.unblock(hashtag: hashtag, on: connection)
    }
}
