import Foundation
import NIOConcurrencyHelpers

/// Fan-out of ``BusEvent``s to every instance (and within one).
public protocol MessageBus: Sendable {
    /// Sends an event to every subscriber on every instance, this one included.
    func publish(_ event: BusEvent) async throws
    /// A stream of every event published after the call.
    func subscribe() -> AsyncStream<BusEvent>
    /// Whether events other instances publish reach this one: false until a shared bus has
    /// first subscribed (`/ready` waits for it), then true, also across reconnects.
    var hasSubscribed: Bool { get }
}

extension MessageBus {
    /// A bus inside this process is subscribed from the start.
    public var hasSubscribed: Bool { true }
}

/// The single-instance bus: events go straight to this process's subscribers.
public final class InProcessMessageBus: MessageBus {
    private let subscribers = NIOLockedValueBox<[UUID: AsyncStream<BusEvent>.Continuation]>([:])

    public init() {}

    public func publish(_ event: BusEvent) async throws {
        deliver(event)
    }

    public func subscribe() -> AsyncStream<BusEvent> {
        let id = UUID()
        let (stream, continuation) = AsyncStream<BusEvent>.makeStream(bufferingPolicy: .bufferingNewest(10_000))
        continuation.onTermination = { [weak self] _ in
            _ = self?.subscribers.withLockedValue { $0.removeValue(forKey: id) }
        }
        subscribers.withLockedValue { $0[id] = continuation }
        return stream
    }

    /// Hands an event to this process's subscribers.
    func deliver(_ event: BusEvent) {
        for continuation in subscribers.withLockedValue({ Array($0.values) }) {
            continuation.yield(event)
        }
    }
}
