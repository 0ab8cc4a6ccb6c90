import Foundation
import HummingbirdWebSocket
import Synchronization
@testable import Realtime
import Testing

/// One socket's reader, writer and idle timeout (``SocketConnection``, ``IdleSweeper``): what
/// ends a connection, and that an idle one is closed after ``RealtimeLimits/idleTimeoutSeconds``.
@Suite struct SocketConnectionTests {
    /// Frames the connection wrote.
    final class Written: Sendable {
        private let frames = Mutex<[String]>([])
        func append(_ frame: WebSocketOutboundWriter.OutboundFrame) {
            if case .text(let text) = frame { frames.withLock { $0.append(text) } }
        }
        var texts: [String] { frames.withLock { $0 } }
    }

    /// How long a connection may take to end in these tests: they check that it ends at all.
    /// Generous, because the whole test process can be starved for seconds on a loaded
    /// machine (seen in CI: every connection here took ~10 s at once).
    static let ends: Duration = .seconds(60)

    static func limits(idle seconds: Int) -> RealtimeLimits {
        var limits = RealtimeLimits()
        limits.idleTimeoutSeconds = seconds
        return limits
    }

    /// Runs a connection whose reader only consumes; returns how long it lived.
    static func run(
        _ connection: SocketConnection, messages: AsyncThrowingStream<WebSocketMessage, any Error>, written: Written = Written(),
        sweeper: IdleSweeper
    ) async -> Duration {
        let started = ContinuousClock.now
        await connection.run(messages: messages, write: { written.append($0) }, version: .v1, sweeper: sweeper) { messages in
            do {
                for try await _ in messages {}
            } catch {}
        }
        return ContinuousClock.now - started
    }

    @Test func anIdleSocketIsClosedAfterTheTimeout() async {
        let sweeper = IdleSweeper(interval: .milliseconds(100))
        let connection = SocketConnection(limits: Self.limits(idle: 1))
        // The client stays connected and sends nothing.
        let (messages, client) = AsyncThrowingStream<WebSocketMessage, any Error>.makeStream()
        let lived = await Self.run(connection, messages: messages, sweeper: sweeper)
        client.finish()
        #expect(lived >= .seconds(1))
        #expect(lived < Self.ends)
        #expect(sweeper.count == 0)
    }

    /// What keeps a socket open is any message from the client: each one moves its idle
    /// deadline a whole timeout on. (Checked on the watch with explicit times: a socket test
    /// timed by the wall clock failed on a loaded CI machine, where the reader itself was
    /// starved for longer than the timeout.)
    @Test func messagesKeepASocketOpenUntilTheyStop() {
        let (_, outbox) = AsyncStream<Outbound>.makeStream()
        let watch = SocketWatch(idleTimeoutSeconds: 1, outbox: outbox)
        for _ in 0..<3 {
            let before = IdleSweeper.now()
            watch.touch()
            let after = IdleSweeper.now()
            #expect(!watch.isIdle(at: before + 1000), "a message keeps the socket for a whole timeout")
            #expect(watch.isIdle(at: after + 1001), "silence past the timeout makes it idle")
        }
        #expect(!watch.isStopped)
        watch.stop()
        #expect(watch.isStopped)
        if case .enqueued = outbox.yield(.text("late")) {
            Issue.record("a stopped socket's outbox still accepts frames")
        }
    }

    @Test func aTooSlowClientGetsWhatWasQueuedThenTheConnectionEnds() async {
        let connection = SocketConnection(limits: Self.limits(idle: 60))
        let (messages, client) = AsyncThrowingStream<WebSocketMessage, any Error>.makeStream()
        let written = Written()
        for text in ["a", "b", "c"] {
            connection.continuation.yield(.text(text))
        }
        // What the hub does when the outbox is over its bounds.
        connection.continuation.finish()
        let lived = await Self.run(connection, messages: messages, written: written, sweeper: IdleSweeper(interval: .seconds(1)))
        client.finish()
        #expect(written.texts == ["a", "b", "c"])
        #expect(lived < Self.ends)
    }

    @Test func theClientLeavingEndsTheWriterWithoutWritingTheRest() async {
        let connection = SocketConnection(limits: Self.limits(idle: 60))
        let (messages, client) = AsyncThrowingStream<WebSocketMessage, any Error>.makeStream()
        client.finish()
        let lived = await Self.run(connection, messages: messages, sweeper: IdleSweeper(interval: .seconds(1)))
        #expect(lived < Self.ends)
        #expect(connection.watch.isStopped)
        // Nothing more is queued once the connection ended.
        if case .enqueued = connection.continuation.yield(.text("late")) {
            Issue.record("the outbox still accepts frames after the connection ended")
        }
    }

    @Test func aWriteFailureEndsTheConnection() async {
        struct Gone: Error {}
        let connection = SocketConnection(limits: Self.limits(idle: 60))
        let (messages, client) = AsyncThrowingStream<WebSocketMessage, any Error>.makeStream()
        connection.continuation.yield(.text("a"))
        let started = ContinuousClock.now
        await connection.run(messages: messages, write: { _ in throw Gone() }, version: .v1, sweeper: IdleSweeper(interval: .seconds(1))) {
            messages in
            do {
                for try await _ in messages {}
            } catch {}
        }
        client.finish()
        #expect(ContinuousClock.now - started < Self.ends)
    }
}
