import Core
import Foundation
import PostgresNIO

/// A per-user limit on one kind of action, counted in the database so it holds across
/// every instance on it: a token bucket of `burst` tokens, refilled evenly over `period`
/// seconds (`public.take_action_tokens`, migration 0007). Over the limit the answer is
/// 429 `rate_limited` "You can <allowance>; retry in N s" with `Retry-After: N`, the shape
/// the message-send limit uses.
public struct ActionLimit: Sendable {
    /// The bucket's name (one bucket per user and action).
    public var action: String
    public var burst: Int
    public var periodSeconds: Int
    /// What the limit allows, for the message: "create 20 groups an hour".
    public var allowance: String

    public init(_ action: String, burst: Int, perSeconds periodSeconds: Int, allowance: String) {
        self.action = action
        self.burst = burst
        self.periodSeconds = periodSeconds
        self.allowance = allowance
    }

    /// Takes `cost` tokens for the signed-in caller in a statement that commits by itself (one
    /// round trip; an attempt counts even if the action then fails); throws 429 when there are
    /// not enough.
    public func take(_ database: Database, _ caller: Caller, cost: Int = 1) async throws {
        try await take(database, user: try caller.requireUser(), cost: cost)
    }

    /// Takes `cost` tokens for `user`, when a request acts for a user without being signed in
    /// as them (a signed upload URL acts for the user who asked for it).
    public func take(_ database: Database, user: UUID, cost: Int = 1) async throws {
        guard cost > 0 else { return }
        let wait = try await database.withStatement { connection in
            let rows = try await connection.query(
                "SELECT public.take_action_tokens(\(user), \(action), \(cost)::integer, \(burst)::integer, \(periodSeconds)::integer)",
                logger: database.logger)
            for try await wait in rows.decode(Int.self) { return wait }
            return 0
        }
        if wait > 0 { throw refusal(retryAfter: wait) }
    }

    /// The 429 for a caller who must wait `seconds` (for a statement that took the tokens itself).
    public func refusal(retryAfter seconds: Int) -> APIError {
        APIError.rateLimited(code: "rate_limited", message: "You can \(allowance); retry in \(seconds) s", retryAfter: seconds)
    }
}
