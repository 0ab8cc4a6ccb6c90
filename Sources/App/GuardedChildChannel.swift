import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1

/// A server child channel whose connections get a ``ConnectionGuardHandler`` in front of the
/// HTTP decoder and an ``HTTPExchangeObserver`` right behind it; a request whose client goes
/// away is cancelled (``AbandonedRequestSignal``).
struct GuardedChildChannel<Base: ServerChildChannel>: ServerChildChannel {
    /// The base channel's value plus the connection's abandonment signal.
    struct Value: ServerChildChannelValue {
        let base: Base.Value
        let abandoned: AbandonedRequestSignal
        var channel: any Channel { base.channel }
    }

    let base: Base
    let limits: HTTPConnectionLimits
    let registry: ConnectionRegistry?

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let limits = limits
        let registry = registry
        return base.setup(channel: channel, logger: logger).flatMapThrowing { value in
            let abandoned = AbandonedRequestSignal()
            let pipeline = channel.pipeline.syncOperations
            let connectionGuard = ConnectionGuardHandler(limits: limits, registry: registry, abandoned: abandoned)
            let decoder = try pipeline.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
            try pipeline.addHandler(HTTPExchangeObserver(connectionGuard), position: .after(decoder))
            try pipeline.addHandler(connectionGuard, position: .first)
            return Value(base: value, abandoned: abandoned)
        }
    }

    func handle(value: Value, logger: Logger) async {
        let logger = UpgradeFailureLogFilter.filtering(logger)
        await value.abandoned.serving { await base.handle(value: value.base, logger: logger) }
    }
}
