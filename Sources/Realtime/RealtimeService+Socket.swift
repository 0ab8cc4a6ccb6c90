import Foundation
import HummingbirdWebSocket
import NIOCore

extension RealtimeService {
    // MARK: Connections

    /// Serves one WebSocket connection until it closes.
    public func serve(
        inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, version: PhoenixFrame.Version, token: String
    ) async {
        await serve(
            messages: inbound.messages(maxSize: limits.maximumFrameBytes), write: { try await outbound.write($0) }, version: version,
            token: token)
    }

    /// Serves one connection given its incoming messages and a way to write frames (the
    /// WebSocket above).
    func serve<Messages: AsyncSequence<WebSocketMessage, any Error> & Sendable>(
        messages: Messages, write: @escaping @Sendable (WebSocketOutboundWriter.OutboundFrame) async throws -> Void,
        version: PhoenixFrame.Version, token: String
    ) async {
        let id = UUID()
        let connection = SocketConnection(limits: limits)
        await hub.connect(id, version: version, outbox: connection.continuation, budget: connection.budget)
        let session = RealtimeSession(
            id: id, hub: hub, bus: bus, membership: membership, verify: verify, limits: limits, socketToken: token, logger: logger)
        await connection.run(messages: messages, write: write, version: version) { messages in
            await self.read(messages, session: session, version: version)
        }
        await session.disconnected()
    }

    private func read<Messages: AsyncSequence<WebSocketMessage, any Error>>(
        _ messages: Messages, session: RealtimeSession, version: PhoenixFrame.Version
    ) async {
        var tokens = Double(limits.framesPerSecond * 2)
        var last = ContinuousClock.now
        var refusals = 0
        do {
            for try await message in messages {
                let now = ContinuousClock.now
                tokens = min(Double(limits.framesPerSecond * 2), tokens + (now - last).seconds * Double(limits.framesPerSecond))
                last = now
                guard let frame = try? PhoenixFrame.decode(message, version: version) else {
                    refusals += 1
                    if refusals > limits.refusalsBeforeClose { return }
                    continue
                }
                guard tokens >= 1 else {
                    refusals += 1
                    if refusals > limits.refusalsBeforeClose { return }
                    let reply = PhoenixFrame.error(to: frame, reason: "rate limited: at most \(limits.framesPerSecond) messages per second")
                    await Self.briefly { await self.hub.send(reply, to: session.id) }
                    continue
                }
                tokens -= 1
                await Self.briefly { await session.handle(frame) }
            }
        } catch {
            logger.debug("realtime socket read ended", metadata: ["error": "\(error)"])
        }
    }
}

extension RealtimeService {
    /// Runs `work` on a child task that ends with it, and waits for it.
    ///
    /// A task keeps the stack memory its deepest call ever needed until it ends (Swift's task
    /// allocator does not give slabs back), so work as deep as a join (token verification,
    /// membership query, hub calls) would leave a long-lived reader holding ~10 KB for the
    /// life of the socket. Frames are still handled one at a time, in order.
    static func briefly(_ work: @escaping @Sendable () async -> Void) async {
        await withDiscardingTaskGroup { group in
            group.addTask { await work() }
        }
    }
}

extension Duration {
    var seconds: Double {
        let (whole, fraction) = components
        return Double(whole) + Double(fraction) / 1e18
    }
}

/// One realtime socket's outbox and the two halves that serve it: a reader (a child task) and
/// a writer (the connection's own task).
///
/// What a socket holds while idle is kept small (docs/performance.md, "connections"): one
/// child task, no timer (the idle timeout is a ``SocketWatch`` that the process's one
/// ``IdleSweeper`` checks), no actor of its own.
///
/// The connection ends when the first of these happens:
/// - the client goes away, or the reader gives up on it (too many refused frames): the writer
///   stops before its next frame;
/// - the client sends nothing for ``RealtimeLimits/idleTimeoutSeconds``: the same;
/// - the client is too slow (the hub finishes the outbox): the frames already queued are
///   written, then the reader is cancelled;
/// - a write fails, or the task is cancelled.
struct SocketConnection: Sendable {
    let outbox: AsyncStream<Outbound>
    let continuation: AsyncStream<Outbound>.Continuation
    let budget: OutboxBudget
    let watch: SocketWatch

    init(limits: RealtimeLimits) {
        (outbox, continuation) = AsyncStream<Outbound>.makeStream(bufferingPolicy: .bufferingOldest(limits.outboundQueue))
        budget = OutboxBudget(limit: limits.outboundBytes)
        watch = SocketWatch(idleTimeoutSeconds: limits.idleTimeoutSeconds, outbox: continuation)
    }

    /// Serves the socket until it ends. `read` consumes the client's messages (each one
    /// counts as activity for the idle timeout); its return ends the connection.
    func run<Messages: AsyncSequence<WebSocketMessage, any Error> & Sendable>(
        messages: Messages, write: @escaping @Sendable (WebSocketOutboundWriter.OutboundFrame) async throws -> Void,
        version: PhoenixFrame.Version, sweeper: IdleSweeper = .shared,
        read: @escaping @Sendable (ActivityCountingMessages<Messages>) async -> Void
    ) async {
        let watch = watch
        sweeper.add(watch)
        await withDiscardingTaskGroup { group in
            group.addTask {
                await read(ActivityCountingMessages(base: messages, watch: watch))
                watch.stop()
            }
            await writeOutbox(to: write, version: version)
            group.cancelAll()
        }
        sweeper.remove(watch)
        continuation.finish()
    }

    /// Writes what the hub queues. The socket's channels' filters run here (PreparedChange),
    /// so their cost falls on this connection alone.
    private func writeOutbox(
        to write: @Sendable (WebSocketOutboundWriter.OutboundFrame) async throws -> Void, version: PhoenixFrame.Version
    ) async {
        for await item in outbox {
            defer { budget.remove(item.byteCount) }
            if watch.isStopped { return }
            let text: String
            switch item {
            case .text(let frame):
                text = frame
            case .binary(let bytes):
                do { try await write(.binary(bytes)) } catch { return }
                continue
            case .change(let change, let subscriber):
                guard let frame = change.frame(for: subscriber, version: version) else {
                    // Let other tasks run between a long run of non-matching changes.
                    await Task.yield()
                    continue
                }
                text = frame
            }
            do { try await write(.text(text)) } catch { return }
        }
    }
}

/// A socket's incoming messages, each one noted as activity on its ``SocketWatch``.
struct ActivityCountingMessages<Base: AsyncSequence<WebSocketMessage, any Error> & Sendable>: AsyncSequence, Sendable {
    typealias Element = WebSocketMessage
    let base: Base
    let watch: SocketWatch

    struct AsyncIterator: AsyncIteratorProtocol {
        var base: Base.AsyncIterator
        let watch: SocketWatch

        mutating func next() async throws -> WebSocketMessage? {
            let message = try await base.next()
            if message != nil { watch.touch() }
            return message
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: base.makeAsyncIterator(), watch: watch)
    }
}

