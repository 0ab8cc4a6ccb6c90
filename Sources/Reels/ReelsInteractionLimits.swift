import Database

/// Per-user limits on the interaction calls (docs/reels.md, Interactions). Each is a token
/// bucket counted in the database (``ActionLimit``): `burst` at once, refilled evenly over the
/// period; over it the call is answered 429 `rate_limited` with `Retry-After`. Reads (comment
/// pages, saved reels) are not limited.
public struct InteractionLimits: Sendable {
    /// Likes, unlikes, saves and unsaves together.
    public var reactions = ActionLimit("reels.react", burst: 300, perSeconds: 3600, allowance: "like, unlike, save or unsave 300 times an hour")
    public var comments = ActionLimit("reels.comment", burst: 60, perSeconds: 3600, allowance: "comment 60 times an hour")
    public var commentDeletions = ActionLimit("reels.delete_comment", burst: 60, perSeconds: 3600, allowance: "delete 60 comments an hour")
    public var shares = ActionLimit("reels.share", burst: 100, perSeconds: 3600, allowance: "share 100 reels an hour")
    public var views = ActionLimit("reels.view", burst: 600, perSeconds: 3600, allowance: "record 600 views an hour")
    /// Costs one token per reel id sent.
    public var impressions = ActionLimit("reels.impressions", burst: 3000, perSeconds: 3600, allowance: "record 3000 impressions an hour")
    /// "Not interested" and hide together.
    public var marks = ActionLimit("reels.mark", burst: 100, perSeconds: 3600, allowance: "hide or mark 100 reels an hour")
    public var reports = ActionLimit("reels.report", burst: 20, perSeconds: 3600, allowance: "report 20 reels an hour")

    public init() {}
}
