import Foundation
import NIOConcurrencyHelpers

/// An in-process token bucket per key: `capacity` requests at once, refilled at
/// `refillPerSecond`. Used for cheap per-address limits on endpoints a client can repeat.
public final class RateLimiter: Sendable {
    private struct Bucket {
        var tokens: Double
        var updated: Double
    }

    private let capacity: Double
    private let refillPerSecond: Double
    private let buckets = NIOLockedValueBox<[String: Bucket]>([:])

    public init(capacity: Int, refillPerSecond: Double) {
        self.capacity = Double(capacity)
        self.refillPerSecond = refillPerSecond
    }

    /// Takes a token for `key`; returns `nil` when allowed, else seconds until a token is free.
    public func acquire(_ key: String, now: Double = Date().timeIntervalSince1970) -> Int? {
        buckets.withLockedValue { buckets in
            if buckets.count > 100_000 {
                // Forget full buckets so memory stays bounded under address churn.
                buckets = buckets.filter { $0.value.tokens + (now - $0.value.updated) * refillPerSecond < capacity }
            }
            var bucket = buckets[key] ?? Bucket(tokens: capacity, updated: now)
            bucket.tokens = min(capacity, bucket.tokens + (now - bucket.updated) * refillPerSecond)
            bucket.updated = now
            if bucket.tokens >= 1 {
                bucket.tokens -= 1
                buckets[key] = bucket
                return nil
            }
            buckets[key] = bucket
            // Guarded conversion: a zero refill rate would make the wait infinite.
            let wait = (1 - bucket.tokens) / refillPerSecond
            return wait.isFinite ? Int(min(wait, 86_400).rounded(.up)) : 86_400
        }
    }
}
