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
        #expect(lived < .seconds(5))
        #expect(sweeper.count == 0)
    }

    @Test func messagesKeepASocketOpenUntilTheyStop() async {
        let sweeper = IdleSweeper(interval: .milliseconds(100))
        let connection = SocketConnection(limits: Self.limits(idle: 1))
        let (messages, client) = AsyncThrowingStream<WebSocketMessage, any Error>.makeStream()
        let sender = Task {
            // A heartbeat every 300 ms for 2.4 s, then silence (the socket stays connected).
            var lastSent = ContinuousClock.now
            for _ in 0..<8 {
                client.yield(.text(#"{"topic":"phoenix","event":"heartbeat","payload":{},"ref":"1"}"#))
                lastSent = ContinuousClock.now
                try? await Task.sleep(for: .milliseconds(300))
            }
            return lastSent
        }
        let started = ContinuousClock.now
        _ = await Self.run(connection, messages: messages, sweeper: sweeper)
        let ended = ContinuousClock.now
        let lastMessage = await sender.value
        client.finish()
        #expect(ended - started >= .milliseconds(2100))
        // Closed a whole timeout after the last message was sent (it was read no earlier;
        // activity is kept in whole milliseconds), however late the machine ran the tasks.
        #expect(ended - lastMessage >= .milliseconds(990))
        #expect(ended - lastMessage < .seconds(5))
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
        #expect(lived < .seconds(5))
    }

    @Test func theClientLeavingEndsTheWriterWithoutWritingTheRest() async {
        let connection = SocketConnection(limits: Self.limits(idle: 60))
        let (messages, client) = AsyncThrowingStream<WebSocketMessage, any Error>.makeStream()
        client.finish()
        let lived = await Self.run(connection, messages: messages, sweeper: IdleSweeper(interval: .seconds(1)))
        #expect(lived < .seconds(5))
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
        #expect(ContinuousClock.now - started < .seconds(5))
    }
}
