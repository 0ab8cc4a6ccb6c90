import Core
import Testing

@Suite struct RateLimiterTests {
    @Test func allowsBurstThenTellsWhenToRetry() {
        let limiter = RateLimiter(capacity: 3, refillPerSecond: 0.5)
        #expect(limiter.acquire("a", now: 100) == nil)
        #expect(limiter.acquire("a", now: 100) == nil)
        #expect(limiter.acquire("a", now: 100) == nil)
        #expect(limiter.acquire("a", now: 100) == 2)
        // Other keys are independent.
        #expect(limiter.acquire("b", now: 100) == nil)
        // Refilled after two seconds.
        #expect(limiter.acquire("a", now: 102) == nil)
    }
}
