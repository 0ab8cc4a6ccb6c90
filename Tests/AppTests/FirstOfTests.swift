import Testing

@testable import App

/// The bounded wait that keeps a pool which cannot close from holding a stopped server.
@Suite struct FirstOfTests {
    @Test func anOperationThatFinishesInTimeWins() async {
        // The operation does not suspend, so it finishes as soon as its task first runs; the
        // deadline only has to outlast a busy test process's queue (ci failed one at 10 s).
        let finished = await FirstOf.race((), orAfter: .seconds(120))
        #expect(finished)
    }

    @Test func anOperationThatNeverFinishesLosesToTheDeadline() async {
        // Returning at all is the point (the operation never ends); how soon depends on how
        // busy the test process's concurrency pool is, so no wall-clock bound is asserted.
        let finished = await FirstOf.race(await Self.never(), orAfter: .milliseconds(200))
        #expect(!finished)
    }

    /// Waits forever without answering cancellation, like a pool with a lease never returned.
    private static func never() async {
        await withCheckedContinuation { (_: CheckedContinuation<Void, Never>) in }
    }
}
