import Core
import Foundation
import Hummingbird
import HummingbirdWebSocket
import NIOCore
import Realtime

/// `/calls/v1/ws` (the signalling WebSocket) and `POST /functions/v1/turn-credentials`.
public struct CallsController: Sendable {
    let calls: CallsService
    /// Whether `X-Forwarded-*` headers come from a trusted proxy.
    let trustProxy: Bool
    /// TURN credential requests per user per minute.
    let turnLimiter: RateLimiter

    /// `buckets` keeps the per-user limits (shared by the instances when the server has Redis).
    public init(calls: CallsService, trustProxy: Bool, buckets: (any TokenBucketStore)? = nil) {
        self.calls = calls
        self.trustProxy = trustProxy
        self.turnLimiter = RateLimiter(name: "calls.turn_credentials", capacity: 30, refillPerSecond: 0.5, store: buckets)
    }

    public func addWebSocketRoutes(to router: Router<RealtimeUpgradeContext>) {
        let calls = self.calls
        let trustProxy = self.trustProxy
        router.ws("calls/v1/ws") { _, _ in
            .upgrade([:])
        } onUpgrade: { inbound, outbound, context in
            let request = context.request
            let address = ForwardedAddress.client(request.headers, peer: context.requestContext.remoteAddress?.ipAddress, trustProxy: trustProxy)
            let secure = trustProxy && request.headers[.xForwardedProto]?.lowercased() == "https"
            await calls.serve(inbound: inbound, outbound: outbound, address: address, secure: secure)
        }
    }

    /// `POST /functions/v1/turn-credentials` for signed-in users (`Cache-Control: no-store`).
    public func addRoutes(to group: RouterGroup<AppRequestContext>) {
        group.post("turn-credentials") { _, context in
            let user = try (context.caller ?? .anonymous).requireUser()
            if let retry = await turnLimiter.acquire(user.uuidString) {
                throw APIError.rateLimited(code: "rate_limited", message: "too many TURN credential requests", retryAfter: retry)
            }
            guard let minted = calls.turnCredentials(for: user) else {
                throw APIError(status: .serviceUnavailable, code: "turn_unavailable", message: "TURN is not configured on this server")
            }
            let body: [String: Any] = [
                "username": minted.credentials.username, "credential": minted.credentials.credential,
                "ttl": minted.settings.ttlSeconds, "expiresAt": minted.credentials.expiresAt,
                "uris": minted.settings.urls, "iceServers": minted.iceServers,
            ]
            let data = try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys, .withoutEscapingSlashes])
            return Response(
                status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"],
                body: .init(byteBuffer: ByteBuffer(data: data)))
        }
    }
}

// The unwrap below is of a constant, valid header name (no client input).
extension HTTPField.Name {
    static let xForwardedProto = HTTPField.Name("X-Forwarded-Proto")!
}
