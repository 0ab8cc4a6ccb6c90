@testable import Calls
import Testing

@Suite struct FrameRateLimiterTests {
    @Test func roomCreateIsLimitedToFivePerMinute() {
        var limiter = FrameRateLimiter()
        for _ in 0..<5 { #expect(limiter.check("ROOM_CREATE", now: 100) == .allowed) }
        guard case .limited(let retryAfterMs) = limiter.check("ROOM_CREATE", now: 100) else {
            Issue.record("the sixth ROOM_CREATE was not limited")
            return
        }
        #expect(retryAfterMs > 0 && retryAfterMs <= 12_000)
        // Other frame kinds have their own buckets.
        #expect(limiter.check("PING", now: 100) == .allowed)
        // One token back after 12 s.
        #expect(limiter.check("ROOM_CREATE", now: 112.1) == .allowed)
    }

    @Test func allFramesShareSixtyPerTenSeconds() {
        var limiter = FrameRateLimiter()
        for _ in 0..<60 { #expect(limiter.check("PING", now: 0) == .allowed) }
        #expect(limiter.check("PING", now: 0) != .allowed)
    }

    @Test func keepingOnAtFourTimesTheLimitIsFlooding() {
        var limiter = FrameRateLimiter()
        var verdicts: [FrameRateLimiter.Verdict] = []
        for _ in 0..<(60 * 4) { verdicts.append(limiter.check("PING", now: 0)) }
        #expect(verdicts.last == .flooding)
        #expect(verdicts.firstIndex(of: .flooding) == 60 * 4 - 1)
    }
}
