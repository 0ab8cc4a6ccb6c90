import Core
import Foundation
import Hummingbird
import HummingbirdWebSocket
import NIOCore

/// The request context of the WebSocket upgrade router (realtime and calls).
public struct RealtimeUpgradeContext: RequestContext, WebSocketRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let webSocket: WebSocketHandlerReference<Self>
    /// The connected peer's address (the proxy's, behind one).
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.webSocket = .init()
        self.remoteAddress = source.channel.remoteAddress
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

    /// Adds the upgrade route to the WebSocket router.
    public func addRoutes(to router: Router<RealtimeUpgradeContext>) {
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
    }
}
