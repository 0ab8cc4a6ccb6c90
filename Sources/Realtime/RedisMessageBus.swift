import Foundation
import Logging
import NIOCore
import Redis
import ServiceLifecycle

/// The cross-instance bus on Redis pub/sub (`REDIS_URL`). Publishing is a `PUBLISH` on a pooled
/// connection; a dedicated subscriber connection per instance hands events to local
/// subscribers, reconnecting and re-subscribing by itself. Events published while this
/// instance was cut off from Redis are not replayed: realtime clients catch up by seq from the
/// database, as they do after any reconnect.
public final class RedisMessageBus: MessageBus, Service {
    /// The pub/sub channel every instance subscribes to.
    static let channel = "ecomansoni:bus"
    /// The largest encoded event carried (Redis itself would take 512 MB).
    static let maximumPayload = 1 << 20

    private let client: RedisClient
    private let subscriber: RedisSubscriber
    private let local = InProcessMessageBus()
    private let logger: Logger

    /// Publishes through `client` (the instance's pool, closed by its owner) and subscribes on
    /// a connection of its own to the same Redis.
    public init(client: RedisClient, configuration: RedisConfiguration, logger: Logger) {
        self.client = client
        self.subscriber = RedisSubscriber(configuration: configuration, channels: [Self.channel], logger: logger)
        self.logger = logger
    }

    public func publish(_ event: BusEvent) async throws {
        let data = try event.envelope(maximumBytes: Self.maximumPayload)
        try await client.publish(channel: Self.channel, message: ByteBuffer(bytes: data))
    }

    public func subscribe() -> AsyncStream<BusEvent> {
        local.subscribe()
    }

    public var hasSubscribed: Bool {
        subscriber.hasSubscribed
    }

    /// Returns once the subscriber connection has subscribed (events published from then on arrive).
    public func waitUntilSubscribed() async {
        await subscriber.waitUntilSubscribed()
    }

    /// Listens until shutdown; the subscriber reconnects after failures.
    public func run() async throws {
        let events = subscriber.messages()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await self.subscriber.run() }
            group.addTask {
                await cancelWhenGracefulShutdown {
                    for await event in events {
                        self.handle(event)
                    }
                }
            }
            // The subscriber returns at shutdown; then stop forwarding too.
            try await group.next()
            group.cancelAll()
        }
    }

    private func handle(_ event: RedisSubscriberEvent) {
        switch event {
        case .message(_, let payload):
            guard let decoded = try? JSONDecoder().decode(BusEvent.self, from: Data(payload.readableBytesView)) else {
                logger.warning("undecodable bus event ignored")
                return
            }
            local.deliver(decoded)
        case .resubscribed:
            logger.notice("the Redis bus reconnected; events published meanwhile were missed (clients catch up by seq)")
        }
    }
}
