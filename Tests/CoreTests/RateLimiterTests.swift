import Core
import Testing

@Suite struct RateLimiterTests {
    @Test func allowsBurstThenTellsWhenToRetry() {
        let buckets = LocalTokenBuckets()
        func take(_ key: String, at now: Double) -> Int? {
            buckets.take(key, cost: 1, capacity: 3, refillPerSecond: 0.5, now: now)
        }
        #expect(take("a", at: 100) == nil)
        #expect(take("a", at: 100) == nil)
        #expect(take("a", at: 100) == nil)
        #expect(take("a", at: 100) == 2)
        // Other keys are independent.
        #expect(take("b", at: 100) == nil)
        // Refilled after two seconds.
        #expect(take("a", at: 102) == nil)
    }

    @Test func aCostTakesSeveralTokensAndIsCappedAtTheCapacity() async {
        let limiter = RateLimiter(name: "test", capacity: 4, refillPerSecond: 1)
        #expect(await limiter.acquire("a", cost: 3) == nil)
        #expect(await limiter.acquire("a", cost: 3) != nil, "one token left")
        // A cost above the capacity takes a full bucket instead of never succeeding.
        #expect(await limiter.acquire("b", cost: 100) == nil)
        #expect(await limiter.acquire("b") != nil)
    }

    /// A shared store that cannot be reached leaves the limit in force per instance.
    @Test func anUnreachableSharedStoreFallsBackToLocalBuckets() async {
        struct Unreachable: TokenBucketStore {
            struct Down: Error {}
            func take(_ key: String, cost: Int, capacity: Int, refillPerSecond: Double) async throws -> Int? { throw Down() }
        }
        let limiter = RateLimiter(name: "test", capacity: 2, refillPerSecond: 0.01, store: Unreachable())
        #expect(await limiter.acquire("a") == nil)
        #expect(await limiter.acquire("a") == nil)
        #expect(await limiter.acquire("a") == 100)
    }
}
