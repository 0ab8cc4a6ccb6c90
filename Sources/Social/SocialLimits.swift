import Database

/// Per-user limits on the profile and social-graph calls a client can repeat (docs/api.md
/// §1.8). Each is a token bucket counted in the database: `burst` at once, refilled evenly
/// over the period.
enum SocialLimits {
    static let profileUpdates = ActionLimit("social.update_profile", burst: 60, perSeconds: 3600, allowance: "update your profile 60 times an hour")
    static let usernameChecks = ActionLimit("social.check_username", burst: 60, perSeconds: 60, allowance: "check 60 usernames a minute")
    static let searches = ActionLimit("social.search", burst: 60, perSeconds: 60, allowance: "search 60 times a minute")
    /// Following and unfollowing together.
    static let follows = ActionLimit("social.follow", burst: 200, perSeconds: 3600, allowance: "follow or unfollow 200 times an hour")
    static let followResponses = ActionLimit("social.respond", burst: 500, perSeconds: 3600, allowance: "answer 500 follow requests an hour")
    /// Blocking and unblocking together.
    static let blocks = ActionLimit("social.block", burst: 100, perSeconds: 3600, allowance: "block or unblock 100 times an hour")
    static let reports = ActionLimit("social.report", burst: 20, perSeconds: 3600, allowance: "report 20 profiles an hour")
}
