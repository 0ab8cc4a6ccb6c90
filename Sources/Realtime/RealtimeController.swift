import Core
import Foundation
import Hummingbird
import HTTPTypes
import HummingbirdCore
import HummingbirdWebSocket
import NIOCore
import NIOHTTP1
import Synchronization

/// The request context of the WebSocket upgrade router (the calls socket; realtime's
/// upgrades are taken before it, see ``RealtimeController``).
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
///
/// Its upgrades are taken before Hummingbird's WebSocket router sees them (App's
/// `RealtimeUpgradeTap`), so that a socket is served by NIO channel handlers with no task
/// waiting on it (docs/performance.md, "connections").
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

    /// A WebSocket upgrade of the realtime endpoint that passed the checks made before
    /// upgrading.
    public struct SocketRequest: Sendable {
        let version: PhoenixFrame.Version
        let token: String
        let address: String
    }

    /// What a request head is to the realtime endpoint.
    public enum SocketRequestCheck: Sendable {
        /// A WebSocket upgrade of the endpoint that passed every check.
        case socket(SocketRequest)
        /// A WebSocket upgrade of the endpoint refused: the rule it broke, naming the field.
        case refused(String)
        /// Any other request (served as HTTP).
        case other
    }

    /// Checks a request head: a WebSocket upgrade (RFC 6455 §4.2.1) of
    /// `/realtime/v1/websocket` needs one of this deployment's API keys and a known protocol
    /// version. `peer` is the connected address.
    public func check(_ head: HTTPRequestHead, peer: String?) -> SocketRequestCheck {
        Self.check(head, peer: peer, isAPIKey: isAPIKey, trustProxy: trustProxy)
    }

    /// ``check(_:peer:)`` with the deployment's key check and proxy setting given.
    static func check(
        _ head: HTTPRequestHead, peer: String?, isAPIKey: (String) -> Bool, trustProxy: Bool
    ) -> SocketRequestCheck {
        let uri = URI(head.uri)
        let headers = head.headers
        guard uri.path == Self.path || uri.path == Self.path + "/",
            headers[canonicalForm: "upgrade"].contains(where: { $0.lowercased() == "websocket" })
        else { return .other }
        guard head.method == .GET, head.version == .http1_1 else { return .refused("a WebSocket upgrade is an HTTP/1.1 GET request") }
        guard headers[canonicalForm: "connection"].contains(where: { $0.lowercased() == "upgrade" }) else {
            return .refused("Connection: must include Upgrade")
        }
        guard headers["sec-websocket-version"] == ["13"] else { return .refused("Sec-WebSocket-Version: must be 13") }
        guard let key = headers["sec-websocket-key"].first, !key.isEmpty else { return .refused("Sec-WebSocket-Key: required") }
        let parameters = uri.queryParameters
        guard let token = parameters.get("apikey"), isAPIKey(token) else {
            return .refused("apikey: must be an API key of this deployment")
        }
        guard let version = PhoenixFrame.Version(rawValue: parameters.get("vsn") ?? "1.0.0") else {
            return .refused("vsn: must be 1.0.0 or 2.0.0")
        }
        let forwarded = HTTPFields(headers["x-forwarded-for"].map { HTTPField(name: ForwardedAddress.header, value: $0) })
        return .socket(
            SocketRequest(version: version, token: token, address: ForwardedAddress.client(forwarded, peer: peer, trustProxy: trustProxy)))
    }

    /// The endpoint's path.
    public static let path = "/realtime/v1/websocket"

    /// Serves the socket of an upgraded `request` (or closes it with 1008 when its address
    /// has ``RealtimeLimits/socketsPerAddress`` open already). On the channel's event loop,
    /// once the WebSocket codec is in place.
    public func serve(_ request: SocketRequest, on channel: any Channel) throws {
        let limit = realtime.limits.socketsPerAddress
        guard connections.open(request.address, limit: limit) else {
            try RealtimeService.refuse(
                channel, code: .policyViolation, reason: "too many realtime connections from this address (at most \(limit))")
            return
        }
        let connections = connections
        do {
            try realtime.serve(on: channel, version: request.version, token: request.token) {
                connections.close(request.address)
            }
        } catch {
            connections.close(request.address)
            throw error
        }
    }
}

/// Open WebSocket connections per client address.
final class AddressConnections: Sendable {
    private let open = Mutex<[String: Int]>([:])

    /// Counts a new connection from `address`; false (and nothing counted) at `limit`.
    func open(_ address: String, limit: Int) -> Bool {
        open.withLock { open in
            let current = open[address, default: 0]
            guard current < limit else { return false }
            open[address] = current + 1
            return true
        }
    }

    /// Forgets a closed connection.
    func close(_ address: String) {
        open.withLock { open in
            let remaining = open[address, default: 1] - 1
            open[address] = remaining > 0 ? remaining : nil
        }
    }
}
