import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization

/// An event of a `RedisSubscriber`.
public enum RedisSubscriberEvent: Sendable {
    /// A message published on one of the subscribed channels.
    case message(channel: String, payload: ByteBuffer)
    /// The connection was lost and is subscribed again: messages published meanwhile were missed.
    case resubscribed
}

/// A dedicated pub/sub connection, subscribed to fixed channels, that reconnects with backoff
/// and re-subscribes for as long as it runs. Run it as a `Service` (or call `run()` in a task).
public final class RedisSubscriber: Service, Sendable {
    /// How often an idle subscriber connection is checked with `PING`.
    static let pingInterval = Duration.seconds(15)
    /// Events kept per consumer that has not read them yet; older ones are dropped.
    static let bufferedEvents = 10_000

    private struct State {
        var consumers: [Int: AsyncStream<RedisSubscriberEvent>.Continuation] = [:]
        var subscribeWaiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var nextID = 0
        var hasSubscribed = false
        var finished = false
    }

    /// Where the subscriber connects.
    public let configuration: RedisConfiguration
    /// The channels subscribed to.
    public let channels: [String]
    private let factory: RedisConnectionFactory
    private let eventLoopGroup: any EventLoopGroup
    private let logger: Logger
    private let state = Mutex(State())

    /// A subscriber; nothing connects until `run()`.
    public init(
        configuration: RedisConfiguration,
        channels: [String],
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger
    ) {
        self.configuration = configuration
        self.channels = channels
        self.factory = RedisConnectionFactory(configuration: configuration)
        self.eventLoopGroup = eventLoopGroup
        var logger = logger
        logger[metadataKey: "redis.target"] = "\(configuration.target)"
        self.logger = logger
    }

    /// A stream of every event from now on (the newest 10 000 are kept if it is read slowly).
    /// Several consumers may each call it. It finishes when `run()` returns.
    public func messages() -> AsyncStream<RedisSubscriberEvent> {
        let (stream, continuation) = AsyncStream.makeStream(
            of: RedisSubscriberEvent.self, bufferingPolicy: .bufferingNewest(Self.bufferedEvents))
        let id: Int? = self.state.withLock { state in
            guard !state.finished else { return nil }
            let id = state.nextID
            state.nextID += 1
            state.consumers[id] = continuation
            return id
        }
        guard let id else {
            continuation.finish()
            return stream
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.consumers.removeValue(forKey: id) }
        }
        return stream
    }

    /// Whether the first `SUBSCRIBE` was confirmed (it stays true across reconnects).
    public var hasSubscribed: Bool {
        state.withLock { $0.hasSubscribed }
    }

    /// Returns once the first `SUBSCRIBE` is confirmed (at once if it already was), or when
    /// `run()` returns, or the calling task is cancelled.
    public func waitUntilSubscribed() async {
        let id = self.state.withLock { state in
            state.nextID += 1
            return state.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = self.state.withLock { state -> Bool in
                    if state.hasSubscribed || state.finished || Task.isCancelled { return true }
                    state.subscribeWaiters[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            self.state.withLock { $0.subscribeWaiters.removeValue(forKey: id) }?.resume()
        }
    }

    /// Connects, subscribes and delivers messages; after a lost connection, reconnects with
    /// exponential backoff (100 ms to 5 s, with jitter) and re-subscribes. Returns when the task
    /// is cancelled or a graceful shutdown begins; the streams of `messages()` then finish.
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await self.runUntilCancelled()
        }
        let (consumers, waiters) = self.state.withLock { state in
            state.finished = true
            let consumers = Array(state.consumers.values)
            let waiters = Array(state.subscribeWaiters.values)
            state.consumers.removeAll()
            state.subscribeWaiters.removeAll()
            return (consumers, waiters)
        }
        for consumer in consumers { consumer.finish() }
        for waiter in waiters { waiter.resume() }
    }

    private func runUntilCancelled() async {
        guard !self.channels.isEmpty else {
            self.didSubscribe(isReconnect: false)
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(3600))
            }
            return
        }
        var failures = 0
        while !Task.isCancelled {
            do {
                try await self.runConnection()
                failures = 0
            } catch {
                if Task.isCancelled { break }
                self.logger.warning("Redis subscriber connection failed", metadata: ["error": "\(error)"])
            }
            if Task.isCancelled { break }
            let delay = Backoff.delay(attempt: failures)
            failures += 1
            self.logger.info("Redis subscriber reconnecting", metadata: ["redis.retry_in_ms": "\(delay)"])
            do {
                try await Task.sleep(for: delay)
            } catch {
                break
            }
        }
    }

    /// One connection's life: connect, subscribe, keep alive with PING, until it closes.
    /// Returns normally if the subscription was confirmed before the connection ended.
    private func runConnection() async throws {
        let isReconnect = self.state.withLock { $0.hasSubscribed }
        let session = SubscriptionSession(channels: self.channels, isReconnect: isReconnect, subscriber: self)
        let connection = try await self.factory.connect(
            on: self.eventLoopGroup.next(), logger: self.logger, pushHandler: { session.handle($0) })
        let eventLoop = connection.channel.eventLoop
        let commandTimeout = self.configuration.commandTimeout

        connection.write(RESPEncoder.command(["SUBSCRIBE"] + self.channels))
        // Unconfirmed within the command timeout: give up on this connection.
        let confirmation = eventLoop.scheduleTask(in: TimeAmount(commandTimeout)) {
            if !session.isConfirmed { connection.close() }
        }
        let ping = eventLoop.scheduleRepeatedTask(
            initialDelay: TimeAmount(Self.pingInterval), delay: TimeAmount(Self.pingInterval)
        ) { _ in
            connection.sendFuture(RESPEncoder.command(["PING"]), replyCount: 1, timeout: commandTimeout)
                .whenFailure { _ in connection.close() }
        }
        defer {
            confirmation.cancel()
            ping.cancel()
            connection.close()
        }
        await withTaskCancellationHandler {
            try? await connection.channel.closeFuture.get()
        } onCancel: {
            connection.close()
        }
        if !session.isConfirmed {
            throw RedisError.connectionClosed("\(self.configuration.target) closed the subscriber connection before confirming SUBSCRIBE")
        }
        self.logger.warning("Redis subscriber connection lost")
    }

    /// All channels are subscribed on a connection.
    fileprivate func didSubscribe(isReconnect: Bool) {
        let (waiters, consumers) = self.state.withLock { state in
            state.hasSubscribed = true
            let waiters = Array(state.subscribeWaiters.values)
            state.subscribeWaiters.removeAll()
            return (waiters, isReconnect ? Array(state.consumers.values) : [])
        }
        for waiter in waiters { waiter.resume() }
        for consumer in consumers { consumer.yield(.resubscribed) }
        self.logger.debug("Redis subscriber subscribed", metadata: ["redis.channels": "\(self.channels.count)"])
    }

    fileprivate func deliver(_ event: RedisSubscriberEvent) {
        let consumers = self.state.withLock { Array($0.consumers.values) }
        for consumer in consumers { consumer.yield(event) }
    }
}

/// The pub/sub state of one subscriber connection, fed from its event loop.
private final class SubscriptionSession: Sendable {
    private let pending: Mutex<Set<String>>
    private let confirmed = Atomic<Bool>(false)
    private let isReconnect: Bool
    private let subscriber: RedisSubscriber

    init(channels: [String], isReconnect: Bool, subscriber: RedisSubscriber) {
        self.pending = Mutex(Set(channels))
        self.isReconnect = isReconnect
        self.subscriber = subscriber
    }

    var isConfirmed: Bool { self.confirmed.load(ordering: .relaxed) }

    /// A RESP3 push or RESP2 pub/sub array: `[message, channel, payload]` or `[subscribe, channel, count]`.
    func handle(_ value: RESPValue) {
        guard let items = value.array, let kind = items.first?.string?.lowercased() else { return }
        switch kind {
        case "message":
            guard items.count == 3, let channel = items[1].string, let payload = items[2].bytes else { return }
            self.subscriber.deliver(.message(channel: channel, payload: payload))
        case "subscribe":
            guard items.count >= 2, let channel = items[1].string else { return }
            let allConfirmed = self.pending.withLock { pending in
                pending.remove(channel)
                return pending.isEmpty
            }
            if allConfirmed, !self.confirmed.exchange(true, ordering: .relaxed) {
                self.subscriber.didSubscribe(isReconnect: self.isReconnect)
            }
        default:
            break
        }
    }
}
