import Hummingbird

/// Behind a reverse proxy every request comes from the proxy's address, which would put all
/// users in one rate-limit bucket. When the deployment says a proxy is in front
/// (`TRUST_PROXY=true`), the client address is the right-most `X-Forwarded-For` entry,
/// i.e. the address that proxy saw; clients cannot spoof it past the proxy.
public struct ClientAddressMiddleware: RouterMiddleware {
    public typealias Context = AppRequestContext
    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        if let forwarded = ForwardedAddress.from(request.headers) {
            context.proxiedClientAddress = forwarded
        }
        return try await next(request, context)
    }
}
