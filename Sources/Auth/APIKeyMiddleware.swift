import Core
import Hummingbird

/// The project gate (Kong in hosted Supabase): every request must carry one of this
/// deployment's API keys in the `apikey` header (or `?apikey=` for WebSockets).
public struct APIKeyMiddleware: RouterMiddleware {
    public typealias Context = AppRequestContext
    let tokens: TokenService

    public init(tokens: TokenService) {
        self.tokens = tokens
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let key = request.headers[.apikey] ?? request.uri.queryParameters.get("apikey")
        guard let key, tokens.isAPIKey(key) else {
            throw APIError(status: .unauthorized, code: "invalid_api_key", message: "Invalid API key", hint: "Send the anon key in the apikey header")
        }
        return try await next(request, context)
    }
}

/// Resolves the caller of a data request (RPC, functions) from `Authorization`:
/// no bearer or an API key → that key's role; a user token → `authenticated`.
/// Expired and invalid tokens are refused with PostgREST's 401s.
public struct CallerMiddleware: RouterMiddleware {
    public typealias Context = AppRequestContext
    let tokens: TokenService

    public init(tokens: TokenService) {
        self.tokens = tokens
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        context.caller = try await resolve(request)
        return try await next(request, context)
    }

    func resolve(_ request: Request) async throws -> Caller {
        let apiKey = request.headers[.apikey] ?? request.uri.queryParameters.get("apikey") ?? tokens.anonKey
        let token = BearerToken.from(request) ?? apiKey
        do {
            return try await tokens.caller(fromToken: token)
        } catch .expired {
            throw APIError(status: .unauthorized, code: "PGRST303", message: "JWT expired", hint: "Refresh the session and retry")
        } catch {
            throw APIError(status: .unauthorized, code: "PGRST301", message: "JWT could not be verified", hint: "Send a token issued by this server")
        }
    }
}
