/// Where token buckets are kept: in this process (``LocalTokenBuckets``), or in a store every
/// instance shares (Redis; `App/RedisTokenBuckets`), so a limit holds across instances.
public protocol TokenBucketStore: Sendable {
    /// Takes `cost` tokens from bucket `key`, created full with `capacity` tokens and refilled
    /// at `refillPerSecond`. Returns nil when they were taken, else the whole seconds until they
    /// would be. Throws when the store cannot be reached.
    func take(_ key: String, cost: Int, capacity: Int, refillPerSecond: Double) async throws -> Int?
}
