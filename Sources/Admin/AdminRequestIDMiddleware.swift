import Core
import Hummingbird

/// Gives every `/admin/v1` request one request id (the client's `X-Request-Id` when usable,
/// else a new one) before anything else runs, and puts it on every answer, errors included:
/// the id an admin quotes is the one the audit log recorded.
public struct AdminRequestIDMiddleware: RouterMiddleware {
    public typealias Context = AppRequestContext

    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        let id = AdminController.requestID(request)
        context.requestID = id
        var response = try await next(request, context)
        response.headers[AdminController.requestIDHeader] = id
        return response
    }
}
