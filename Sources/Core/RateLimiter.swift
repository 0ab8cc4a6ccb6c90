import Foundation
import NIOConcurrencyHelpers

/// A named token-bucket limit per key (a user id, a client address): `capacity` requests at
/// once, refilled at `refillPerSecond`. The buckets live in a ``TokenBucketStore``: shared by
/// every instance when the server has one (Redis), else in this process. While a shared store
/// cannot be reached the limit falls back to this process's own buckets, so it still holds per
/// instance (docs/configuration.md, "Limits across instances").
public final class RateLimiter: Sendable {
    /// Names the limit in the shared store's keys (`<name>:<key>`).
    public let name: String
    private let capacity: Int
    private let refillPerSecond: Double
    private let store: (any TokenBucketStore)?
    private let local = LocalTokenBuckets()

    public init(name: String, capacity: Int, refillPerSecond: Double, store: (any TokenBucketStore)? = nil) {
        self.name = name
        self.capacity = capacity
        self.refillPerSecond = refillPerSecond
        self.store = store
    }

    /// Takes `cost` tokens (at most the capacity) for `key`; returns `nil` when allowed, else
    /// seconds until the tokens are free.
    public func acquire(_ key: String, cost: Int = 1) async -> Int? {
        let cost = max(1, min(cost, capacity))
        if let store {
            do {
                return try await store.take("\(name):\(key)", cost: cost, capacity: capacity, refillPerSecond: refillPerSecond)
            } catch {
                // Logged by the store; the limit holds per instance meanwhile.
            }
        }
        return local.take(key, cost: cost, capacity: capacity, refillPerSecond: refillPerSecond, now: Date().timeIntervalSince1970)
    }
}

/// Token buckets in this process's memory, bounded: past 100 000 keys the full ones are forgotten.
public final class LocalTokenBuckets: TokenBucketStore {
    private struct Bucket {
        var tokens: Double
        var updated: Double
    }

    private let buckets = NIOLockedValueBox<[String: Bucket]>([:])

    public init() {}

    public func take(_ key: String, cost: Int, capacity: Int, refillPerSecond: Double) async throws -> Int? {
        take(key, cost: cost, capacity: capacity, refillPerSecond: refillPerSecond, now: Date().timeIntervalSince1970)
    }

    /// ``take(_:cost:capacity:refillPerSecond:)`` at a given time (seconds since 1970).
    public func take(_ key: String, cost: Int, capacity: Int, refillPerSecond: Double, now: Double) -> Int? {
        let capacity = Double(capacity)
        let cost = Double(cost)
        return buckets.withLockedValue { buckets in
            if buckets.count > 100_000 {
                // Forget full buckets so memory stays bounded under address churn.
                buckets = buckets.filter { $0.value.tokens + (now - $0.value.updated) * refillPerSecond < capacity }
            }
            var bucket = buckets[key] ?? Bucket(tokens: capacity, updated: now)
            bucket.tokens = min(capacity, bucket.tokens + max(0, now - bucket.updated) * refillPerSecond)
            bucket.updated = now
            if bucket.tokens >= cost {
                bucket.tokens -= cost
                buckets[key] = bucket
                return nil
            }
            buckets[key] = bucket
            // Guarded conversion: a zero refill rate would make the wait infinite.
            let wait = (cost - bucket.tokens) / refillPerSecond
            return wait.isFinite ? Int(min(wait, 86_400).rounded(.up)) : 86_400
        }
    }
}
