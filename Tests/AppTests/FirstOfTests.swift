import Testing

@testable import App

/// The bounded wait that keeps a pool which cannot close from holding a stopped server.
@Suite struct FirstOfTests {
    @Test func anOperationThatFinishesInTimeWins() async {
        let finished = await FirstOf.race(await Task.yield(), orAfter: .seconds(10))
        #expect(finished)
    }

    @Test func anOperationThatNeverFinishesLosesToTheDeadline() async {
        let clock = ContinuousClock()
        let start = clock.now
        let finished = await FirstOf.race(await Self.never(), orAfter: .milliseconds(200))
        #expect(!finished)
        #expect(clock.now - start < .seconds(5))
    }

    /// Waits forever without answering cancellation, like a pool with a lease never returned.
    private static func never() async {
        await withCheckedContinuation { (_: CheckedContinuation<Void, Never>) in }
    }
}
