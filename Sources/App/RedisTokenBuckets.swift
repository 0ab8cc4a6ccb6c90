import Core
import Foundation
import Logging
import NIOConcurrencyHelpers
import Redis

/// Token buckets every instance shares, in Redis: one Lua script takes the tokens atomically
/// with Redis's own clock, so instances with skewed clocks agree. A bucket's key expires once
/// it would be full again. When Redis cannot be reached, ``RateLimiter`` falls back to the
/// instance's own buckets; the outage is logged once, and its end once.
final class RedisTokenBuckets: TokenBucketStore {
    /// KEYS[1] the bucket; ARGV capacity, refill per second, cost. Returns 0 when taken, else
    /// the whole seconds until the tokens are free (at most a day).
    static let script = RedisScript(
        """
        local capacity = tonumber(ARGV[1])
        local rate = tonumber(ARGV[2])
        local cost = tonumber(ARGV[3])
        local clock = redis.call('TIME')
        local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
        local state = redis.call('HMGET', KEYS[1], 'tokens', 'updated')
        local tokens = tonumber(state[1]) or capacity
        local updated = tonumber(state[2]) or now
        tokens = math.min(capacity, tokens + math.max(0, now - updated) * rate)
        local wait = 0
        if tokens >= cost then
          tokens = tokens - cost
        else
          wait = math.min(86400, math.ceil((cost - tokens) / rate))
        end
        redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'updated', tostring(now))
        redis.call('PEXPIRE', KEYS[1], math.ceil((capacity - tokens) / rate * 1000) + 1000)
        return wait
        """)
    /// Every key is under this prefix.
    static let keyPrefix = "ecomansoni:limit:"

    private let client: RedisClient
    private let logger: Logger
    private let unreachable = NIOLockedValueBox(false)

    init(client: RedisClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    func take(_ key: String, cost: Int, capacity: Int, refillPerSecond: Double) async throws -> Int? {
        do {
            let reply = try await client.evaluate(
                Self.script, keys: [Self.keyPrefix + key], arguments: [String(capacity), String(refillPerSecond), String(cost)])
            if unreachable.withLockedValue({ was in defer { was = false }; return was }) {
                logger.notice("rate limits are shared through Redis again")
            }
            guard let wait = reply.int else { throw RedisError.protocolViolation("token bucket script answered \(reply)") }
            return wait > 0 ? Int(clamping: wait) : nil
        } catch {
            if !unreachable.withLockedValue({ was in defer { was = true }; return was }) {
                logger.warning("Redis is unreachable: rate limits hold per instance until it is back", metadata: ["error": "\(error)"])
            }
            throw error
        }
    }
}
