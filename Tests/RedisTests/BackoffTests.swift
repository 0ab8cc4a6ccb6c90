import Testing
@testable import Redis

/// Reconnect delays: 100 ms doubling to 5 s, jittered between half and all of the step.
@Suite struct BackoffTests {
    @Test func delaysGrowExponentiallyWithJitterUpToFiveSeconds() {
        for attempt in 0..<40 {
            let step = min(100 << min(attempt, 16), 5000)
            for _ in 0..<20 {
                let delay = Backoff.delay(attempt: attempt)
                #expect(delay >= .milliseconds(step / 2))
                #expect(delay <= .milliseconds(step))
            }
        }
        #expect(Backoff.delay(attempt: -3) <= .milliseconds(100))
        #expect(Backoff.delay(attempt: Int.max) <= .seconds(5))
    }
}
