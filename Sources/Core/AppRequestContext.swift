import Hummingbird
import Logging
import NIOCore

/// The request context every route of the server uses.
///
/// It carries the authenticated ``Caller`` (set by the authentication middleware of the
/// route group) and exposes the peer address for rate limiting.
public struct AppRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The caller resolved from the `apikey` and `Authorization` headers; `nil` until a
    /// middleware that authenticates has run.
    public var caller: Caller?
    /// The connected peer.
    public let remoteAddress: SocketAddress?
    /// The client address a trusted reverse proxy reported (see ``ClientAddressMiddleware``).
    public var proxiedClientAddress: String?
    /// The request's id, where a route group's middleware assigns one (the admin API's
    /// `X-Request-Id`, which its audit log records).
    public var requestID: String?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.caller = nil
        self.remoteAddress = source.channel.remoteAddress
        self.proxiedClientAddress = nil
        self.requestID = nil
    }

    /// Requests larger than this are refused with 413 before any handler sees them.
    public var maxUploadSize: Int { RequestLimits.maxBodyBytes }

    /// A key naming the client for per-address limits: the address a trusted proxy
    /// reported, else the peer IP without port.
    public var clientAddress: String {
        proxiedClientAddress ?? remoteAddress?.ipAddress ?? "unknown"
    }
}

/// Limits that apply to every request.
public enum RequestLimits {
    /// The largest JSON body any endpoint accepts (1 MiB).
    public static let maxBodyBytes = 1 << 20
}
