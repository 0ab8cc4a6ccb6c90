import Core
import Database

/// How many feed sessions a viewer may start (docs/reels.md, Feed, "Limits";
/// `REELS_FEED_SESSIONS_PER_MINUTE`, `REELS_FEED_ANONYMOUS_SESSIONS_PER_MINUTE`). A first page
/// of `get_reels_feed` (no cursor) ranks a new snapshot and stores it; cursor pages read the
/// stored snapshot and are not limited.
public struct FeedLimitSettings: Sendable, Equatable {
    /// New sessions per signed-in user: a bucket of this many, refilled evenly over a minute.
    public var sessionsPerMinute = 30
    /// New sessions per client address for anonymous callers (counted by each server instance
    /// unless the server has Redis).
    public var anonymousSessionsPerMinute = 30

    public init() {}
}

/// The limits on new feed sessions: a signed-in user's bucket is in the database
/// (``ActionLimit``'s bucket, exact across instances), taken by the page statement itself
/// (`reels.feed_page_as`, migration 0043) with ``users``' size and period; an anonymous
/// caller's is per client address, taken here (in Redis when the server has one, else in this
/// process). Over the limit: 429 `rate_limited` "You can start N feed sessions a minute…;
/// retry in S s" with `Retry-After`, as the other reels limits answer.
struct FeedSessionLimiter: Sendable {
    let users: ActionLimit
    let anonymous: RateLimiter
    let anonymousAllowance: String

    init(_ settings: FeedLimitSettings, buckets: (any TokenBucketStore)? = nil) {
        users = ActionLimit(
            "reels.feed_session", burst: settings.sessionsPerMinute, perSeconds: 60,
            allowance: "start \(settings.sessionsPerMinute) feed sessions a minute")
        anonymous = RateLimiter(
            name: "reels.feed_session.anonymous", capacity: settings.anonymousSessionsPerMinute,
            refillPerSecond: Double(settings.anonymousSessionsPerMinute) / 60, store: buckets)
        anonymousAllowance = "start \(settings.anonymousSessionsPerMinute) feed sessions a minute from one address without signing in"
    }

    /// Admits one new session for an anonymous caller from `address`; a signed-in caller's
    /// session is counted by the page statement (nothing to do here).
    func admit(_ caller: Caller, address: String?) async throws {
        guard caller.role == .anon else { return }
        if let wait = await anonymous.acquire(address ?? "unknown") {
            throw APIError.rateLimited(code: "rate_limited", message: "You can \(anonymousAllowance); retry in \(wait) s", retryAfter: wait)
        }
    }
}
