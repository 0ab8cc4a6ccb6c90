import Core
import Foundation
import Logging
import NIOConcurrencyHelpers
import PostgresNIO
import ServiceLifecycle

/// The cross-instance bus on PostgreSQL LISTEN/NOTIFY. Publishing is a `pg_notify`; one
/// dedicated connection per instance listens and hands events to local subscribers. If that
/// connection drops it reconnects with backoff (subscribers that need completeness catch up
/// by seq from the database, as clients do).
public final class PostgresMessageBus: MessageBus, Service {
    /// The NOTIFY channel.
    static let channel = "ecomansoni_bus"
    /// PostgreSQL's NOTIFY payload limit, less a margin.
    static let maximumPayload = 7900

    private let client: PostgresClient
    private let listenConfiguration: PostgresConnection.Configuration
    private let local = InProcessMessageBus()
    private let listened = NIOLockedValueBox(false)
    private let logger: Logger

    public init(client: PostgresClient, listenConfiguration: PostgresConnection.Configuration, logger: Logger) {
        self.client = client
        self.listenConfiguration = listenConfiguration
        self.logger = logger
    }

    public func publish(_ event: BusEvent) async throws {
        let text = String(decoding: try event.envelope(maximumBytes: Self.maximumPayload), as: UTF8.self)
        try await client.query("SELECT pg_notify(\(Self.channel), \(text))", logger: logger)
    }

    public func subscribe() -> AsyncStream<BusEvent> {
        local.subscribe()
    }

    public var hasSubscribed: Bool {
        listened.withLockedValue { $0 }
    }

    /// Listens until shutdown, reconnecting after failures.
    public func run() async throws {
        await cancelWhenGracefulShutdown { await self.listen() }
    }

    private func listen() async {
        await PostgresListener.run(
            channel: Self.channel, configuration: listenConfiguration, logger: logger,
            listening: { listened.withLockedValue { $0 = true } }
        ) { payload in
            guard let event = try? JSONDecoder().decode(BusEvent.self, from: Data(payload.utf8)) else {
                logger.warning("undecodable bus event ignored")
                return
            }
            local.deliver(event)
        }
    }
}

extension BusEvent {
    /// The event as the cross-instance buses carry it (JSON), at most `maximumBytes`: a change
    /// too large to carry its row travels by key (each instance reads the row); anything else
    /// too large throws ``BusError/payloadTooLarge(bytes:limit:)``.
    func envelope(maximumBytes: Int) throws -> Data {
        var data = try JSONEncoder().encode(self)
        if data.count > maximumBytes, case .change(var change) = self, change.record != nil {
            change.record = nil
            data = try JSONEncoder().encode(BusEvent.change(change))
        }
        guard data.count <= maximumBytes else {
            throw BusError.payloadTooLarge(bytes: data.count, limit: maximumBytes)
        }
        return data
    }
}

/// An event the bus cannot carry.
public enum BusError: Error, CustomStringConvertible {
    case payloadTooLarge(bytes: Int, limit: Int)

    public var description: String {
        switch self {
        case .payloadTooLarge(let bytes, let limit):
            return "Payload too large for the cross-instance bus (\(bytes) bytes encoded, at most \(limit))"
        }
    }
}
