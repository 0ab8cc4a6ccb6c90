import Foundation
import HummingbirdWebSocket
import NIOCore
import NIOWebSocket
import Synchronization
@testable import Realtime
import Testing

/// One socket's reader, outbox and idle timeout (``SocketConnection``, ``SocketOutbox``,
/// ``IdleSweeper``): what ends a connection, and that an idle one is closed after
/// ``RealtimeLimits/idleTimeoutSeconds``.
@Suite struct SocketConnectionTests {
    /// Frames the connection wrote.
    final class Written: Sendable {
        private let frames = Mutex<[String]>([])
        func append(_ frame: WebSocketFrame) {
            if frame.opcode == .text { frames.withLock { $0.append(String(buffer: frame.data)) } }
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

    /// A client's messages; the server closing the socket ends them.
    static func client() -> (AsyncThrowingStream<WebSocketMessage, any Error>, AsyncThrowingStream<WebSocketMessage, any Error>.Continuation) {
        AsyncThrowingStream<WebSocketMessage, any Error>.makeStream()
    }

    /// Runs a connection whose client's messages are only counted as activity; returns how long
    /// it lived.
    static func run(
        _ connection: SocketConnection,
        client: (AsyncThrowingStream<WebSocketMessage, any Error>, AsyncThrowingStream<WebSocketMessage, any Error>.Continuation),
        written: Written = Written(), write: (@Sendable (WebSocketFrame) async throws -> Void)? = nil,
        sweeper: IdleSweeper
    ) async -> Duration {
        let started = ContinuousClock.now
        let (messages, continuation) = client
        connection.start(write: write ?? { written.append($0) }, close: { continuation.finish() }, version: .v1, sweeper: sweeper)
        // What a socket's handler does with each message from the client.
        do {
            for try await _ in messages { connection.watch.touch() }
        } catch {}
        connection.end(sweeper: sweeper)
        return ContinuousClock.now - started
    }

    @Test func anIdleSocketIsClosedAfterTheTimeout() async {
        let sweeper = IdleSweeper(interval: .milliseconds(100))
        let connection = SocketConnection(limits: Self.limits(idle: 1))
        // The client stays connected and sends nothing; the server's close ends its messages.
        let lived = await Self.run(connection, client: Self.client(), sweeper: sweeper)
        #expect(lived >= .seconds(1))
        #expect(lived < Self.ends)
        #expect(sweeper.count == 0)
    }

    /// What keeps a socket open is any message from the client: each one moves its idle
    /// deadline a whole timeout on. (Checked on the watch with explicit times: a socket test
    /// timed by the wall clock failed on a loaded CI machine, where the reader itself was
    /// starved for longer than the timeout.)
    @Test func messagesKeepASocketOpenUntilTheyStop() {
        let outbox = SocketOutbox(capacity: 10)
        let watch = SocketWatch(idleTimeoutSeconds: 1, outbox: outbox)
        for _ in 0..<3 {
            let before = IdleSweeper.now()
            watch.touch()
            let after = IdleSweeper.now()
            #expect(!watch.isIdle(at: before + 1000), "a message keeps the socket for a whole timeout")
            #expect(watch.isIdle(at: after + 1001), "silence past the timeout makes it idle")
        }
        #expect(!outbox.isEnding)
        watch.stop()
        #expect(outbox.isEnding)
        #expect(outbox.yield(.text("late")) == .ended, "a stopped socket's outbox still accepts frames")
    }

    @Test func aTooSlowClientGetsWhatWasQueuedThenTheConnectionEnds() async {
        let connection = SocketConnection(limits: Self.limits(idle: 60))
        let written = Written()
        for text in ["a", "b", "c"] {
            #expect(connection.outbox.yield(.text(text)) == .queued)
        }
        // What the hub does when the outbox is over its bounds.
        connection.outbox.finish()
        let lived = await Self.run(connection, client: Self.client(), written: written, sweeper: IdleSweeper(interval: .seconds(1)))
        #expect(written.texts == ["a", "b", "c"])
        #expect(lived < Self.ends)
    }

    @Test func theClientLeavingEndsTheConnectionWithoutWritingTheRest() async {
        let connection = SocketConnection(limits: Self.limits(idle: 60))
        let client = Self.client()
        client.1.finish()
        let lived = await Self.run(connection, client: client, sweeper: IdleSweeper(interval: .seconds(1)))
        #expect(lived < Self.ends)
        #expect(connection.outbox.isEnding)
        // Nothing more is queued once the connection ended.
        #expect(connection.outbox.yield(.text("late")) == .ended, "the outbox still accepts frames after the connection ended")
    }

    @Test func aWriteFailureEndsTheConnection() async {
        struct Gone: Error {}
        let connection = SocketConnection(limits: Self.limits(idle: 60))
        #expect(connection.outbox.yield(.text("a")) == .queued)
        let lived = await Self.run(
            connection, client: Self.client(), write: { _ in throw Gone() }, sweeper: IdleSweeper(interval: .seconds(1)))
        #expect(lived < Self.ends)
    }

    @Test func framesQueuedWhileTheConnectionRunsAreWrittenInOrder() async {
        let connection = SocketConnection(limits: Self.limits(idle: 60))
        let written = Written()
        let client = Self.client()
        let texts = (0..<500).map { "f\($0)" }
        async let lived = Self.run(connection, client: client, written: written, sweeper: IdleSweeper(interval: .seconds(1)))
        for (index, text) in texts.enumerated() {
            #expect(connection.outbox.yield(.text(text)) == .queued)
            if index % 50 == 0 { await Task.yield() }  // bursts: the writer comes and goes
        }
        connection.outbox.finish()
        #expect(await lived < Self.ends)
        #expect(written.texts == texts)
    }
}

/// The outbox on its own: its frame cap, and the three ways it ends.
@Suite struct SocketOutboxTests {
    /// A writer that records what it writes and whether the connection was ended.
    final class Probe: Sendable {
        private let state = Mutex<(texts: [String], ended: Int)>(([], 0))
        var texts: [String] { state.withLock { $0.texts } }
        var ended: Int { state.withLock { $0.ended } }

        var writer: SocketOutbox.Writer {
            SocketOutbox.Writer(
                write: { item in
                    if case .text(let text) = item { self.state.withLock { $0.texts.append(text) } }
                    return true
                },
                end: { self.state.withLock { $0.ended += 1 } })
        }

        func waitUntil(_ condition: @Sendable (Probe) -> Bool) async {
            let deadline = ContinuousClock.now + .seconds(30)
            while !condition(self), ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(5)) }
        }
    }

    @Test func itemsOverTheCapWaitingToBeWrittenAreRefused() {
        let outbox = SocketOutbox(capacity: 3)  // no writer yet: everything waits
        for text in ["a", "b", "c"] { #expect(outbox.yield(.text(text)) == .queued) }
        #expect(outbox.yield(.text("d")) == .full)
        #expect(outbox.count == 3)
    }

    @Test func finishWritesWhatIsQueuedThenEndsOnce() async {
        let outbox = SocketOutbox(capacity: 10)
        for text in ["a", "b"] { _ = outbox.yield(.text(text)) }
        outbox.finish()
        outbox.finish()
        let probe = Probe()
        outbox.attach(probe.writer)
        await probe.waitUntil { $0.ended > 0 }
        #expect(probe.texts == ["a", "b"])
        #expect(probe.ended == 1)
        #expect(outbox.yield(.text("c")) == .ended)
    }

    @Test func stopDropsWhatIsQueuedAndEnds() async {
        let outbox = SocketOutbox(capacity: 10)
        for text in ["a", "b"] { _ = outbox.yield(.text(text)) }
        outbox.stop()
        let probe = Probe()
        outbox.attach(probe.writer)
        await probe.waitUntil { $0.ended > 0 }
        #expect(probe.texts.isEmpty)
        #expect(probe.ended == 1)
    }

    @Test func closeDropsWhatIsQueuedWithoutEnding() async throws {
        let outbox = SocketOutbox(capacity: 10)
        _ = outbox.yield(.text("a"))
        outbox.close()
        outbox.finish()
        let probe = Probe()
        outbox.attach(probe.writer)
        try await Task.sleep(for: .milliseconds(100))
        #expect(probe.texts.isEmpty)
        #expect(probe.ended == 0)
        #expect(outbox.yield(.text("b")) == .ended)
    }
}
