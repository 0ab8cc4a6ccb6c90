import Configuration
import Core
import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import NIOCore

/// Bounds on every HTTP connection (docs/configuration.md, "HTTP connections").
///
/// Enforced by ``ConnectionGuardHandler`` in front of the HTTP decoder, so a client that
/// never finishes a request, sends an oversized head or opens connection after connection
/// cannot hold the server's sockets.
public struct HTTPConnectionLimits: Sendable, Equatable {
    /// Seconds a client has to send a complete request head, counted from the connection's
    /// start or from the first byte after an idle period (`HTTP_HEADER_TIMEOUT_SECONDS`).
    public var headerTimeoutSeconds = 10
    /// Seconds a keep-alive connection may sit between requests, or a request body may
    /// stall, before it is closed (`HTTP_IDLE_TIMEOUT_SECONDS`). Upgraded WebSockets are exempt.
    public var idleTimeoutSeconds = 60
    /// Open connections per remote TCP address; 0 means no cap (`HTTP_MAX_CONNECTIONS_PER_ADDRESS`).
    public var maximumConnectionsPerAddress = 256
    /// Bytes of one request head: request line plus header fields (`HTTP_MAX_HEADER_BYTES`).
    public var maximumHeaderBytes = 32 * 1024

    public init() {}

    /// Hummingbird's HTTP/1 settings matching these limits (its idle timer also covers a
    /// request body that stops arriving; its decoder refuses header fields past the limit).
    var http1Configuration: HTTP1Channel.Configuration {
        HTTP1Channel.Configuration(
            idleTimeout: .seconds(Int64(idleTimeoutSeconds)),
            httpDecoderConfiguration: .init(maxHeaderFieldSize: maximumHeaderBytes, maxHeaderListSize: maximumHeaderBytes))
    }
}

extension HTTPServerBuilder {
    /// HTTP/1 with WebSocket upgrade, every connection guarded by `limits`; realtime upgrades
    /// go to `realtime` (``RealtimeUpgradeTap``), the others to `webSocketResponder`.
    static func guardedHTTP1WebSocketUpgrade<WSResponder: HTTPResponder>(
        webSocketResponder: WSResponder, webSocket: WebSocketServerConfiguration, limits: HTTPConnectionLimits,
        realtime: GuardedChildChannel<HTTP1WebSocketUpgradeChannel>.RealtimeSockets?
    ) -> HTTPServerBuilder where WSResponder.Context: WebSocketRequestContext {
        let registry = limits.maximumConnectionsPerAddress > 0 ? ConnectionRegistry(limit: limits.maximumConnectionsPerAddress) : nil
        let configuration = HTTP1WebSocketUpgradeChannel.Configuration(http1: limits.http1Configuration, ws: webSocket)
        return HTTPServerBuilder { responder in
            GuardedChildChannel(
                base: HTTP1WebSocketUpgradeChannel(responder: responder, webSocketResponder: webSocketResponder, configuration: configuration),
                limits: limits, registry: registry, realtime: realtime)
        }
    }
}

extension HTTPConnectionLimits {
    /// Reads `HTTP_*` (docs/configuration.md). Behind a proxy (`TRUST_PROXY`) every connection
    /// comes from the proxy, so the per-address cap is off unless set explicitly.
    init(reader: ConfigReader, trustProxy: Bool) throws {
        self.init()
        headerTimeoutSeconds = try reader.integer("http.headerTimeoutSeconds", variable: "HTTP_HEADER_TIMEOUT_SECONDS", default: 10, in: 1...600)
        idleTimeoutSeconds = try reader.integer("http.idleTimeoutSeconds", variable: "HTTP_IDLE_TIMEOUT_SECONDS", default: 60, in: 1...3600)
        maximumConnectionsPerAddress = try reader.integer(
            "http.maxConnectionsPerAddress", variable: "HTTP_MAX_CONNECTIONS_PER_ADDRESS", default: trustProxy ? 0 : 256, in: 0...1_000_000)
        maximumHeaderBytes = try reader.integer("http.maxHeaderBytes", variable: "HTTP_MAX_HEADER_BYTES", default: 32 * 1024, in: 1024...1_048_576)
    }
}
