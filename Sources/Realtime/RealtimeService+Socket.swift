import Foundation
import HummingbirdWebSocket
import NIOCore

extension RealtimeService {
    // MARK: Connections

    /// Serves one WebSocket connection until it closes. `channel` is the socket's: a client
    /// that does not answer the server's close within ``closeHandshakeTimeout`` is cut off.
    public func serve(
        inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, channel: any Channel, version: PhoenixFrame.Version,
        token: String
    ) async {
        await serve(
            messages: inbound.messages(maxSize: limits.maximumFrameBytes), write: { try await outbound.write($0) },
            close: {
                // Scheduled first: the close frame itself may wait on a client that stopped reading.
                channel.eventLoop.scheduleTask(in: Self.closeHandshakeTimeout) { channel.close(promise: nil) }
                try? await outbound.close(.normalClosure, reason: nil)
            },
            version: version, token: token)
    }

    /// How long a client has to answer the server's close frame (as long as
    /// hummingbird-websocket waits when a handler returns).
    static let closeHandshakeTimeout = TimeAmount.seconds(15)

    /// Serves one connection given its incoming messages, a way to write frames and a way to
    /// close it (the WebSocket above; `close` must end `messages`).
    @inline(__always)
    func serve<Messages: AsyncSequence<WebSocketMessage, any Error> & Sendable>(
        messages: Messages, write: @escaping @Sendable (WebSocketOutboundWriter.OutboundFrame) async throws -> Void,
        close: @escaping @Sendable () async -> Void, version: PhoenixFrame.Version, token: String
    ) async {
        let id = UUID()
        let connection = SocketConnection(limits: limits)
        await hub.connect(id, version: version, outbox: connection.outbox, budget: connection.budget)
        let session = RealtimeSession(
            id: id, hub: hub, bus: bus, membership: membership, verify: verify, limits: limits, socketToken: token, logger: logger)
        await connection.run(messages: messages, write: write, close: close, version: version) { messages in
            await self.read(messages, session: session, version: version)
        }
        await session.disconnected()
    }

    /// Reads the client's messages until they end or the client is refused too often.
    ///
    /// The loop runs as long as the socket, and its frame (one with the layers above, which
    /// are inlined) is kept that long, so it holds only the loop's state; each message is
    /// handled by ``receive(_:session:version:pace:)``, whose frame is freed once the message
    /// has been handled.
    @inline(__always)
    private func read<Messages: AsyncSequence<WebSocketMessage, any Error>>(
        _ messages: Messages, session: RealtimeSession, version: PhoenixFrame.Version
    ) async {
        var pace = ReadPace(limits: limits)
        do {
            for try await message in messages {
                guard await receive(message, session: session, version: version, pace: &pace) else { return }
            }
        } catch {
            logger.debug("realtime socket read ended", metadata: ["error": "\(error)"])
        }
    }

    /// Handles one message from the client; false when the client has been refused too often
    /// and the connection should end.
    @inline(never)
    private func receive(
        _ message: WebSocketMessage, session: RealtimeSession, version: PhoenixFrame.Version, pace: inout ReadPace
    ) async -> Bool {
        pace.refill(now: .now)
        guard let frame = try? PhoenixFrame.decode(message, version: version) else {
            return pace.refuse()
        }
        guard pace.take() else {
            let reply = PhoenixFrame.error(to: frame, reason: "rate limited: at most \(limits.framesPerSecond) messages per second")
            await Self.briefly { await self.hub.send(reply, to: session.id) }
            return pace.refuse()
        }
        await Self.briefly { await session.handle(frame) }
        return true
    }
}

/// A socket's message rate (a token bucket of ``RealtimeLimits/framesPerSecond``, twice that
/// deep) and the count of messages refused so far.
struct ReadPace {
    private let perSecond: Double
    private let refusalsBeforeClose: Int
    private var tokens: Double
    private var last = ContinuousClock.now
    private var refusals = 0

    init(limits: RealtimeLimits) {
        perSecond = Double(limits.framesPerSecond)
        refusalsBeforeClose = limits.refusalsBeforeClose
        tokens = perSecond * 2
    }

    /// Refills the bucket for the time since the last refill.
    mutating func refill(now: ContinuousClock.Instant) {
        tokens = min(perSecond * 2, tokens + (now - last).seconds * perSecond)
        last = now
    }

    /// Takes a token; false (and none taken) when the bucket is empty.
    mutating func take() -> Bool {
        guard tokens >= 1 else { return false }
        tokens -= 1
        return true
    }

    /// Counts a refused message; false once more than ``RealtimeLimits/refusalsBeforeClose``.
    mutating func refuse() -> Bool {
        refusals += 1
        return refusals <= refusalsBeforeClose
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

/// One realtime socket: its outbox, and the reader that runs in the connection's own task.
///
/// What a socket holds while idle is kept small (docs/performance.md, "connections"): no task
/// of its own beyond the connection's (the outbox's writer runs only while there is something
/// to write), no timer (the idle timeout is a ``SocketWatch`` that the process's one
/// ``IdleSweeper`` checks), no actor of its own.
///
/// The connection ends when the first of these happens:
/// - the client goes away, or the reader gives up on it (too many refused frames): the frames
///   still queued are dropped;
/// - the client sends nothing for ``RealtimeLimits/idleTimeoutSeconds``: the same, and the
///   server closes the socket;
/// - the client is too slow (the hub finishes the outbox): the frames already queued are
///   written, then the server closes the socket;
/// - a write fails.
struct SocketConnection: Sendable {
    let outbox: SocketOutbox
    let budget: OutboxBudget
    let watch: SocketWatch

    init(limits: RealtimeLimits) {
        outbox = SocketOutbox(capacity: limits.outboundQueue)
        budget = OutboxBudget(limit: limits.outboundBytes)
        watch = SocketWatch(idleTimeoutSeconds: limits.idleTimeoutSeconds, outbox: outbox)
    }

    /// Serves the socket until it ends. `read` consumes the client's messages (each one
    /// counts as activity for the idle timeout); its return ends the connection. `close` ends
    /// the socket from the server's side and must make `messages` end.
    @inline(__always)
    func run<Messages: AsyncSequence<WebSocketMessage, any Error> & Sendable>(
        messages: Messages, write: @escaping @Sendable (WebSocketOutboundWriter.OutboundFrame) async throws -> Void,
        close: @escaping @Sendable () async -> Void, version: PhoenixFrame.Version, sweeper: IdleSweeper = .shared,
        read: (ActivityCountingMessages<Messages>) async -> Void
    ) async {
        let budget = budget
        sweeper.add(watch)
        outbox.attach(
            SocketOutbox.Writer(
                write: { item in
                    defer { budget.remove(item.byteCount) }
                    return await Self.write(item, to: write, version: version)
                },
                end: close))
        await read(ActivityCountingMessages(base: messages, watch: watch))
        outbox.close()
        sweeper.remove(watch)
    }

    /// Writes one item; false when the socket can take no more. The socket's channels'
    /// filters run here (PreparedChange), so their cost falls on this connection alone.
    private static func write(
        _ item: Outbound, to write: @Sendable (WebSocketOutboundWriter.OutboundFrame) async throws -> Void,
        version: PhoenixFrame.Version
    ) async -> Bool {
        let frame: WebSocketOutboundWriter.OutboundFrame
        switch item {
        case .text(let text):
            frame = .text(text)
        case .binary(let bytes):
            frame = .binary(bytes)
        case .change(let change, let subscriber):
            guard let text = change.frame(for: subscriber, version: version) else {
                // Let other tasks run between a long run of non-matching changes.
                await Task.yield()
                return true
            }
            frame = .text(text)
        }
        do {
            try await write(frame)
            return true
        } catch {
            return false
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

        @inline(__always)
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

