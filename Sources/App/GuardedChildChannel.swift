import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1

/// A server child channel whose connections get a ``ConnectionGuardHandler`` in front of the
/// HTTP decoder and an ``HTTPExchangeObserver`` right behind it.
struct GuardedChildChannel<Base: ServerChildChannel>: ServerChildChannel {
    typealias Value = Base.Value
    let base: Base
    let limits: HTTPConnectionLimits
    let registry: ConnectionRegistry?

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let limits = limits
        let registry = registry
        return base.setup(channel: channel, logger: logger).flatMapThrowing { value in
            let pipeline = channel.pipeline.syncOperations
            let connectionGuard = ConnectionGuardHandler(limits: limits, registry: registry)
            let decoder = try pipeline.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
            try pipeline.addHandler(HTTPExchangeObserver(connectionGuard), position: .after(decoder))
            try pipeline.addHandler(connectionGuard, position: .first)
            return value
        }
    }

    func handle(value: Value, logger: Logger) async {
        await base.handle(value: value, logger: UpgradeFailureLogFilter.filtering(logger))
    }
}
