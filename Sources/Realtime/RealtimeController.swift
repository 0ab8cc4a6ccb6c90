import Core
import Foundation
import Hummingbird
import HummingbirdWebSocket

/// The request context of the WebSocket upgrade router.
public struct RealtimeUpgradeContext: RequestContext, WebSocketRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let webSocket: WebSocketHandlerReference<Self>

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.webSocket = .init()
    }
}

/// `GET /realtime/v1/websocket?apikey=…&vsn=1.0.0|2.0.0`: the Supabase Realtime endpoint.
public struct RealtimeController: Sendable {
    let realtime: RealtimeService
    /// Whether a key is one of this deployment's API keys (checked before upgrading).
    let isAPIKey: @Sendable (String) -> Bool

    public init(realtime: RealtimeService, isAPIKey: @escaping @Sendable (String) -> Bool) {
        self.realtime = realtime
        self.isAPIKey = isAPIKey
    }

    /// A router holding only the upgrade route.
    public func router() -> Router<RealtimeUpgradeContext> {
        let router = Router(context: RealtimeUpgradeContext.self)
        let realtime = self.realtime
        let isAPIKey = self.isAPIKey
        router.ws("realtime/v1/websocket") { request, _ in
            let parameters = request.uri.queryParameters
            guard let key = parameters.get("apikey"), isAPIKey(key) else { return .dontUpgrade }
            guard PhoenixFrame.Version(rawValue: parameters.get("vsn") ?? "1.0.0") != nil else { return .dontUpgrade }
            return .upgrade([:])
        } onUpgrade: { inbound, outbound, context in
            let parameters = context.request.uri.queryParameters
            let version = PhoenixFrame.Version(rawValue: parameters.get("vsn") ?? "1.0.0") ?? .v1
            await realtime.serve(inbound: inbound, outbound: outbound, version: version, token: parameters.get("apikey") ?? "")
        }
        return router
    }
}
