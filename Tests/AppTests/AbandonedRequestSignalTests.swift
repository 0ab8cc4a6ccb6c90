import Testing

@testable import App

/// The signal that cancels a connection's request when its client goes away: it cancels the
/// task serving the connection, and only while that task serves it.
@Suite struct AbandonedRequestSignalTests {
    @Test(.timeLimit(.minutes(1))) func aClientGoneMidRequestCancelsTheWork() async {
        let signal = AbandonedRequestSignal()
        let started = AsyncStream.makeStream(of: Void.self)
        let served = Task {
            await signal.serving {
                started.continuation.yield()
                // Sleeps until cancelled (the time limit ends the test otherwise).
                try? await Task.sleep(for: .seconds(3600))
            }
            return Task.isCancelled
        }
        var events = started.stream.makeAsyncIterator()
        await events.next()
        signal.fire()
        #expect(await served.value)
    }

    @Test func aClientAlreadyGoneCancelsTheWorkAtOnce() async {
        let signal = AbandonedRequestSignal()
        signal.fire()
        let cancelled = await Task {
            await signal.serving {}
            return Task.isCancelled
        }.value
        #expect(cancelled)
    }

    @Test func aClientGoneAfterTheWorkEndedCancelsNothing() async {
        let signal = AbandonedRequestSignal()
        let task = Task {
            await signal.serving {}
            signal.fire()
            return Task.isCancelled
        }
        #expect(await task.value == false)
    }
}
