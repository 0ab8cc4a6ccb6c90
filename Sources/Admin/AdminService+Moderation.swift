import Core
import Database
import Foundation

/// Content moderation: the reels review queues (scope `moderation.reels`) and decisions,
/// audited with the moderator, the reel and the reason.
extension AdminService {
    public static let reelQueues = ["pending", "reported"]

    /// A page of the reels queue `queue` (`pending` or `reported`); 1–100 per page. Users'
    /// content is shown: the read is audited.
    public func reelQueue(_ session: AdminSession, queue: String, limit: Int, before: Date?) async throws -> Data {
        try await require(.moderationReels, session, action: "admin.reels.queue", target: queue)
        guard let reelReview else { throw AdminErrors.reelsNotServed }
        let page = try await reelReview.queue(queue, limit: limit, before: before)
        try await recordRead(session, action: "admin.reels.queue", scope: .moderationReels, target: queue)
        return page
    }

    /// A moderator's decision on a reel.
    public enum ReelDecision: String, Sendable, CaseIterable {
        /// Visible again where its visibility allows.
        case approve
        /// Hidden from everyone but its author, who sees the reason.
        case reject
        /// Left as it is; its author gets a warning with the reason, and its reports are settled.
        case warn
    }

    /// Decides on a reel, with a reason (shown to its author on a rejection or a warning).
    public func decideReel(_ session: AdminSession, reel: UUID, decision: ReelDecision, reason: String) async throws {
        let action = "admin.reel.\(decision.rawValue)"
        let target = reel.uuidString.lowercased()
        try await require(.moderationReels, session, action: action, target: target)
        let reason = try Self.reason(reason)
        try await refuseIfSwitchedOff([.adminWrites], session, action: action, target: target)
        guard let reelReview else { throw AdminErrors.reelsNotServed }
        try await withAdminWrite(session, .moderationReels) { connection in
            var detail: [String: JSONValue] = [:]
            switch decision {
            case .approve, .reject:
                guard try await reelReview.decide(reel: reel, approve: decision == .approve, reason: reason, moderator: session.userID, on: connection)
                else { throw AdminErrors.reelNotFound }
            case .warn:
                guard let author = try await reelReview.warn(reel: reel, moderator: session.userID, on: connection) else {
                    throw AdminErrors.reelNotFound
                }
                try await Self.warn(author, about: "reel", reel, reason: reason, by: session.userID, on: connection)
                detail["author"] = .string(author.uuidString.lowercased())
            }
            try await AuditLog.append(
                AuditEvent(actor: session.userID, action: action, scope: .moderationReels, target: target, outcome: .allowed, reason: reason,
                           requestID: session.requestID, detail: detail), on: connection)
        }
    }
}

/// The hashtag blocklist (scope `moderation.hashtags`).
extension AdminService {
    public func blockedHashtags(_ session: AdminSession) async throws -> Data {
        try await require(.moderationHashtags, session, action: "admin.hashtags.read")
        guard let reelReview else { throw AdminErrors.reelsNotServed }
        return try await reelReview.blockedHashtags()
    }

    /// Blocks a hashtag; reels carrying it go back to review (audited with how many).
    public func blockHashtag(_ session: AdminSession, _ hashtag: String, reason: String) async throws {
        try await require(.moderationHashtags, session, action: "admin.hashtag.block", target: hashtag)
        let reason = try Self.reason(reason)
        try await refuseIfSwitchedOff([.adminWrites], session, action: "admin.hashtag.block", target: hashtag)
        guard let reelReview else { throw AdminErrors.reelsNotServed }
        try await withAdminWrite(session, .moderationHashtags) { connection in
            guard let blocked = try await reelReview.block(hashtag: hashtag, reason: reason, moderator: session.userID, on: connection) else {
                throw AdminErrors.hashtagBlocked
            }
            try await AuditLog.append(
                AuditEvent(actor: session.userID, action: "admin.hashtag.block", scope: .moderationHashtags, target: blocked.tag,
                           outcome: .allowed, reason: reason, requestID: session.requestID, detail: ["held": .number(Double(blocked.held))]),
                on: connection)
        }
    }

    public func unblockHashtag(_ session: AdminSession, _ hashtag: String, reason: String) async throws {
        try await require(.moderationHashtags, session, action: "admin.hashtag.unblock", target: hashtag)
        let reason = try Self.reason(reason)
        try await refuseIfSwitchedOff([.adminWrites], session, action: "admin.hashtag.unblock", target: hashtag)
        guard let reelReview else { throw AdminErrors.reelsNotServed }
        try await withAdminWrite(session, .moderationHashtags) { connection in
            guard let tag = try await reelReview.unblock(hashtag: hashtag, on: connection) else { throw AdminErrors.hashtagNotBlocked }
            try await AuditLog.append(
                AuditEvent(actor: session.userID, action: "admin.hashtag.unblock", scope: .moderationHashtags, target: tag, outcome: .allowed,
                           reason: reason, requestID: session.requestID), on: connection)
        }
    }
}
