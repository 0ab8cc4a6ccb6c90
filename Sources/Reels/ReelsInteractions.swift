import Core
import Database
import Foundation
import Logging
import Storage

/// What viewers do with a reel: likes, saves, comments (one level of replies), shares, views,
/// impressions, "not interested", hide and reports, and the saved list (docs/reels.md,
/// Interactions). Only a reel the caller may see (`reels.can_view`, migration 0018) can be
/// interacted with; any other is 404 `PGRST116` "reel not found", the same as a reel that does
/// not exist — except taking back one's own like or save, which works on a reel no longer
/// visible and answers the same whatever was there (migration 0025). Writes run as the owner with the caller's claims set (client roles have no write
/// grant on the reels tables); the counters on `reels.reels` move in the same transaction
/// (migration 0020's triggers), so they are exact under concurrency.
public struct ReelsInteractions: Sendable {
    let database: Database
    let limits: InteractionLimits
    /// Signs and verifies the list cursors.
    let cursors: CursorCodec
    /// The media links of the records returned (saved reels).
    let media: ReelMedia

    public init(database: Database, storage: StorageService, logger: Logger) {
        self.init(database: database, limits: InteractionLimits(), media: ReelMedia(database: database))
    }

    /// An instance with other limits (tests hit them with small buckets) and media links.
    init(database: Database, limits: InteractionLimits, media: ReelMedia) {
        self.database = database
        self.limits = limits
        self.cursors = CursorCodec(database: database)
        self.media = media
    }

    /// Every interaction RPC. Arguments are checked first, then the caller's per-user limit is
    /// taken, then the call runs.
    public var rpcFunctions: [RPCFunction] {
        [
            reaction("like_reel", .like, on: true),
            reaction("unlike_reel", .like, on: false),
            reaction("save_reel", .save, on: true),
            reaction("unsave_reel", .save, on: false),
            RPCFunction("comment_reel", parameters: ["reel_id", "body", "reply_to"]) { call in
                let comment = try InteractionArguments.comment(call.arguments)
                try await limits.comments.take(database, call.caller)
                return .json(try await addComment(call.caller, comment))
            },
            RPCFunction("get_reel_comments", parameters: ["reel_id", "parent_id", "limit", "before"]) { call in
                let page = try InteractionArguments.commentsPage(call.arguments)
                return .json(try await comments(call.caller, page))
            },
            RPCFunction("delete_reel_comment", parameters: ["comment_id"]) { call in
                let comment = try InteractionArguments.commentID(call.arguments)
                try await limits.commentDeletions.take(database, call.caller)
                return .json(try await deleteComment(call.caller, comment))
            },
            RPCFunction("share_reel", parameters: ["reel_id", "target"]) { call in
                let share = try InteractionArguments.share(call.arguments)
                try await limits.shares.take(database, call.caller)
                return .json(try await recordShare(call.caller, share))
            },
            RPCFunction("record_reel_view", parameters: ["reel_id", "watched_seconds"]) { call in
                let view = try InteractionArguments.view(call.arguments)
                try await limits.views.take(database, call.caller)
                return .json(try await recordView(call.caller, view))
            },
            RPCFunction("record_reel_impressions", parameters: ["reel_ids"]) { call in
                let reels = try InteractionArguments.impressions(call.arguments)
                try await limits.impressions.take(database, call.caller, cost: reels.count)
                return .json(try await recordImpressions(call.caller, reels))
            },
            mark("not_interested_reel", .notInterested),
            mark("hide_reel", .hidden),
            RPCFunction("report_reel", parameters: ["reel_id", "reason", "details"]) { call in
                let report = try InteractionArguments.report(call.arguments)
                try await limits.reports.take(database, call.caller)
                return .json(try await fileReport(call.caller, report))
            },
            RPCFunction("get_saved_reels", parameters: ["limit", "before"]) { call in
                let page = try InteractionArguments.savedPage(call.arguments)
                return .json(try await savedReels(call.caller, page))
            },
        ]
    }

    private func reaction(_ name: String, _ kind: Reaction, on: Bool) -> RPCFunction {
        RPCFunction(name, parameters: ["reel_id"]) { call in
            let reel = try InteractionArguments.reel(call.arguments)
            try await limits.reactions.take(database, call.caller)
            return .json(try await react(call.caller, kind, reel: reel, on: on))
        }
    }

    private func mark(_ name: String, _ kind: Mark) -> RPCFunction {
        RPCFunction(name, parameters: ["reel_id"]) { call in
            let reel = try InteractionArguments.reel(call.arguments)
            try await limits.marks.take(database, call.caller)
            return .json(try await mark(call.caller, kind, reel: reel))
        }
    }
}
