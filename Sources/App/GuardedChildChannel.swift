import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import Realtime

/// A server child channel whose connections get a ``ConnectionGuardHandler`` in front of the
/// HTTP decoder and an ``HTTPExchangeObserver`` right behind it; a request whose client goes
/// away is cancelled (``AbandonedRequestSignal``). With `realtime`, a ``RealtimeUpgradeTap``
/// behind the observer takes realtime WebSocket upgrades before the base channel sees them.
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
    let realtime: RealtimeSockets?

    /// Where realtime WebSocket upgrades go, and their largest message.
    struct RealtimeSockets {
        let controller: RealtimeController
        let maximumFrameBytes: Int
    }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let limits = limits
        let registry = registry
        let realtime = realtime
        return base.setup(channel: channel, logger: logger).flatMapThrowing { value in
            let abandoned = AbandonedRequestSignal()
            let pipeline = channel.pipeline.syncOperations
            let connectionGuard = ConnectionGuardHandler(limits: limits, registry: registry, abandoned: abandoned)
            let decoder = try pipeline.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
            let observer = HTTPExchangeObserver(connectionGuard)
            try pipeline.addHandler(observer, position: .after(decoder))
            if let realtime {
                try pipeline.addHandler(
                    RealtimeUpgradeTap(realtime: realtime.controller, maximumFrameBytes: realtime.maximumFrameBytes), position: .after(observer))
            }
            try pipeline.addHandler(connectionGuard, position: .first)
            return Value(base: value, abandoned: abandoned)
        }
    }

    func handle(value: Value, logger: Logger) async {
        let logger = UpgradeFailureLogFilter.filtering(logger)
        await value.abandoned.serving { await base.handle(value: value.base, logger: logger) }
    }
}
