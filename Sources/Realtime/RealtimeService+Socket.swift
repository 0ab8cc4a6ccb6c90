import Foundation
import HummingbirdWebSocket
import NIOCore
import NIOWebSocket

extension RealtimeService {
    // MARK: Connections

    /// Serves an upgraded WebSocket: adds the socket's handler behind NIO's WebSocket codec
    /// (whole messages of at most ``RealtimeLimits/maximumFrameBytes``; fragments are joined
    /// first). `disconnected` runs once the socket is gone. On the channel's event loop.
    public func serve(on channel: any Channel, version: PhoenixFrame.Version, token: String, disconnected: @escaping @Sendable () -> Void) throws {
        let socket = RealtimeSocket(service: self, channel: channel, version: version, token: token, disconnected: disconnected)
        try channel.pipeline.syncOperations.addHandlers([
            NIOWebSocketFrameAggregator(
                // NIO's count admits one fragment fewer than the number it is given.
                minNonFinalFragmentSize: 1, maxAccumulatedFrameCount: Self.maximumFragments + 1,
                maxAccumulatedFrameSize: limits.maximumFrameBytes),
            RealtimeSocketHandler(socket: socket),
        ])
        socket.start()
        if !channel.isActive { socket.clientLeft() }
    }

    /// Refuses an upgraded WebSocket: closes it at once with `code` and `reason`. On the
    /// channel's event loop.
    public static func refuse(_ channel: any Channel, code: WebSocketErrorCode, reason: String) throws {
        try channel.pipeline.syncOperations.addHandler(RealtimeSocketHandler(refusal: .init(code: code, reason: reason)))
    }

    /// Fragments one message may come in.
    static let maximumFragments = 1_024

    /// How long a client has to answer the server's close frame before it is cut off.
    static let closeHandshakeTimeout = TimeAmount.seconds(15)

    /// Handles one message from the client; false when the client has been refused too often
    /// and the connection should end.
    func receive(
        _ message: WebSocketMessage, session: RealtimeSession, version: PhoenixFrame.Version, pace: inout ReadPace
    ) async -> Bool {
        pace.refill(now: .now)
        guard let frame = try? PhoenixFrame.decode(message, version: version) else {
            return pace.refuse()
        }
        guard pace.take() else {
            let reply = PhoenixFrame.error(to: frame, reason: "rate limited: at most \(limits.framesPerSecond) messages per second")
            await hub.send(reply, to: session.id)
            return pace.refuse()
        }
        await session.handle(frame)
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

extension Duration {
    var seconds: Double {
        let (whole, fraction) = components
        return Double(whole) + Double(fraction) / 1e18
    }
}

/// One realtime socket's outbox, outbound byte budget and idle watch.
///
/// What a socket holds while idle is kept small (docs/performance.md, "connections"): no task
/// (the outbox's writer runs only while there is something to write), no timer (the idle
/// timeout is a ``SocketWatch`` that the process's one ``IdleSweeper`` checks), no actor of
/// its own.
///
/// The connection ends when the first of these happens:
/// - the client goes away, or the server gives up on it (too many refused frames): the frames
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

    /// Starts writing the outbox with `write` and watching for idleness; `close` ends the
    /// socket from the server's side.
    func start(
        write: @escaping @Sendable (WebSocketFrame) async throws -> Void, close: @escaping @Sendable () async -> Void,
        version: PhoenixFrame.Version, sweeper: IdleSweeper = .shared
    ) {
        let budget = budget
        sweeper.add(watch)
        outbox.attach(
            SocketOutbox.Writer(
                write: { item in
                    defer { budget.remove(item.byteCount) }
                    return await Self.write(item, to: write, version: version)
                },
                end: close))
    }

    /// The connection is over: what is queued is dropped, and the watch stops.
    func end(sweeper: IdleSweeper = .shared) {
        outbox.close()
        sweeper.remove(watch)
    }

    /// Writes one item; false when the socket can take no more. The socket's channels'
    /// filters run here (PreparedChange), so their cost falls on this connection alone.
    private static func write(
        _ item: Outbound, to write: @Sendable (WebSocketFrame) async throws -> Void, version: PhoenixFrame.Version
    ) async -> Bool {
        let frame: WebSocketFrame
        switch item {
        case .text(let text):
            frame = WebSocketFrame(fin: true, opcode: .text, data: ByteBuffer(string: text))
        case .binary(let bytes):
            frame = WebSocketFrame(fin: true, opcode: .binary, data: bytes)
        case .change(let change, let subscriber):
            guard let text = change.frame(for: subscriber, version: version) else {
                // Let other tasks run between a long run of non-matching changes.
                await Task.yield()
                return true
            }
            frame = WebSocketFrame(fin: true, opcode: .text, data: ByteBuffer(string: text))
        }
        do {
            try await write(frame)
            return true
        } catch {
            return false
        }
    }
}
