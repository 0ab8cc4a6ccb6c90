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
    /// The connection (closed by the server when a client does not answer its close).
    public let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.webSocket = .init()
        self.remoteAddress = source.channel.remoteAddress
        self.channel = source.channel
    }
}

/// `GET /realtime/v1/websocket?apikey=…&vsn=1.0.0|2.0.0`: the Supabase Realtime endpoint.
public struct RealtimeController: Sendable {
    let realtime: RealtimeService
    /// Whether a key is one of this deployment's API keys (checked before upgrading).
    let isAPIKey: @Sendable (String) -> Bool
    /// Whether the client address is the right-most `X-Forwarded-For` entry (`TRUST_PROXY`).
    let trustProxy: Bool
    let connections = AddressConnections()

    public init(realtime: RealtimeService, isAPIKey: @escaping @Sendable (String) -> Bool, trustProxy: Bool = false) {
        self.realtime = realtime
        self.isAPIKey = isAPIKey
        self.trustProxy = trustProxy
    }

    /// Adds the upgrade route to the WebSocket router.
    public func addRoutes(to router: Router<RealtimeUpgradeContext>) {
        let realtime = self.realtime
        let isAPIKey = self.isAPIKey
        let trustProxy = self.trustProxy
        let connections = self.connections
        router.ws("realtime/v1/websocket") { request, _ in
            let parameters = request.uri.queryParameters
            guard let key = parameters.get("apikey"), isAPIKey(key) else { return .dontUpgrade }
            guard PhoenixFrame.Version(rawValue: parameters.get("vsn") ?? "1.0.0") != nil else { return .dontUpgrade }
            return .upgrade([:])
        } onUpgrade: { inbound, outbound, context in
            let address = ForwardedAddress.client(
                context.request.headers, peer: context.requestContext.remoteAddress?.ipAddress, trustProxy: trustProxy)
            let limit = realtime.limits.socketsPerAddress
            guard await connections.open(address, limit: limit) else {
                try? await outbound.close(.policyViolation, reason: "too many realtime connections from this address (at most \(limit))")
                return
            }
            let parameters = context.request.uri.queryParameters
            let version = PhoenixFrame.Version(rawValue: parameters.get("vsn") ?? "1.0.0") ?? .v1
            await realtime.serve(
                inbound: inbound, outbound: outbound, channel: context.requestContext.channel, version: version,
                token: parameters.get("apikey") ?? "")
            await connections.close(address)
        }
    }
}

/// Open WebSocket connections per client address.
actor AddressConnections {
    private var open: [String: Int] = [:]

    /// Counts a new connection from `address`; false (and nothing counted) at `limit`.
    func open(_ address: String, limit: Int) -> Bool {
        let current = open[address, default: 0]
        guard current < limit else { return false }
        open[address] = current + 1
        return true
    }

    /// Forgets a closed connection.
    func close(_ address: String) {
        let remaining = open[address, default: 1] - 1
        open[address] = remaining > 0 ? remaining : nil
    }
}
