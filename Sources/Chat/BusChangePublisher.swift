import Realtime

/// Announces changes straight onto the message bus, as `RealtimeService.publish` does, for
/// writers that may run without the API (`--roles calls`): the call events
/// (``ChatCallEvents``) still reach every instance's realtime subscribers.
public struct BusChangePublisher: ChangePublisher {
    let bus: any MessageBus

    public init(bus: any MessageBus) {
        self.bus = bus
    }

    public func publish(_ changes: [ChangeEnvelope]) async {
        for change in changes {
            try? await bus.publish(.change(change))
        }
    }
}
