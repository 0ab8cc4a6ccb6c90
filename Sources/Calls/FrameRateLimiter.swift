import Foundation

/// Per-connection token buckets of the protocol's rate table. A connection that keeps
/// sending at four times a limit is to be closed (4029).
struct FrameRateLimiter {
    private struct Bucket {
        let capacity: Double
        let perSecond: Double
        var tokens: Double
        var updated: Double
        /// Refused frames in the current window; at 3× capacity the sender is flooding.
        var refused: Double = 0
    }

    enum Verdict: Equatable {
        case allowed
        case limited(retryAfterMs: Int)
        case flooding
    }

    private var buckets: [String: Bucket] = [:]

    /// The bucket names a frame type counts against, besides `all`.
    static func category(of type: String) -> String? {
        switch type {
        case "HELLO", "AUTH": return "session"
        case "ROOM_CREATE", "ROOM_UPGRADE": return "create"
        case "ROOM_JOIN", "ROOM_TOKEN_REFRESH": return "join"
        case "call.invite": return "invite"
        default:
            if type.hasPrefix("call.") { return "call" }
            if type.hasPrefix("webrtc.") || type.hasPrefix("sfu.") { return "media" }
            return nil
        }
    }

    /// Limits as (capacity, window seconds).
    static let limits: [String: (Double, Double)] = [
        "all": (60, 10), "session": (3, 60), "create": (5, 60), "join": (10, 60),
        "invite": (10, 60), "call": (30, 60), "media": (600, 60),
    ]

    mutating func check(_ type: String, now: Double) -> Verdict {
        var verdict = take("all", now: now)
        if verdict == .allowed, let category = Self.category(of: type) {
            verdict = take(category, now: now)
        }
        return verdict
    }

    private mutating func take(_ name: String, now: Double) -> Verdict {
        // `name` is "all" or a category of `category(of:)`, all keys of `limits`; an unknown
        // one would be a programming error, answered by the "all" bucket alone, not a trap.
        guard let (capacity, window) = Self.limits[name] else { return .allowed }
        var bucket = buckets[name] ?? Bucket(capacity: capacity, perSecond: capacity / window, tokens: capacity, updated: now)
        let elapsed = now - bucket.updated
        bucket.tokens = min(bucket.capacity, bucket.tokens + elapsed * bucket.perSecond)
        bucket.refused = max(0, bucket.refused - elapsed * bucket.perSecond * 3)
        bucket.updated = now
        defer { buckets[name] = bucket }
        if bucket.tokens >= 1 {
            bucket.tokens -= 1
            return .allowed
        }
        bucket.refused += 1
        if bucket.refused >= bucket.capacity * 3 { return .flooding }
        return .limited(retryAfterMs: Int(((1 - bucket.tokens) / bucket.perSecond * 1000).rounded(.up)))
    }
}
