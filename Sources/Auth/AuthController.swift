import Core
import Foundation
import Hummingbird

/// The GoTrue-compatible endpoints under `/auth/v1` (compat spec §2).
///
/// Endpoints that need no user (`/otp`, `/verify`, `/token`) ignore `Authorization`
/// entirely: clients send stale user tokens there.
public struct AuthController: Sendable {
    let auth: AuthService
    /// Per-address limit on the endpoints a client can hammer (codes, verify, refresh).
    let addressLimiter: RateLimiter
    /// Per-user and per-address limits on `PUT /user` with `phone` (each a number lookup
    /// and an SMS).
    let phoneChangeUserLimiter: RateLimiter
    let phoneChangeAddressLimiter: RateLimiter

    /// `buckets` keeps the per-address and per-user limits (shared by the instances when the
    /// server has Redis).
    public init(auth: AuthService, buckets: (any TokenBucketStore)? = nil) {
        self.auth = auth
        self.addressLimiter = RateLimiter(
            name: "auth.requests", capacity: auth.settings.requestBurstPerAddress,
            refillPerSecond: auth.settings.requestsPerSecondPerAddress, store: buckets)
        let perSecond = Double(auth.settings.phoneChangesPerHour) / 3600
        self.phoneChangeUserLimiter = RateLimiter(
            name: "auth.phone_change.user", capacity: auth.settings.phoneChangeBurst, refillPerSecond: perSecond, store: buckets)
        self.phoneChangeAddressLimiter = RateLimiter(
            name: "auth.phone_change.address", capacity: auth.settings.phoneChangeBurst, refillPerSecond: perSecond, store: buckets)
    }

    /// Adds the routes to a group mounted at `/auth/v1` (after the API-key gate).
    public func addRoutes(to group: RouterGroup<AppRequestContext>) {
        group.post("otp", use: requestCode)
        group.post("verify", use: verify)
        group.post("token", use: token)
        group.get("user", use: getUser)
        group.put("user", use: updateUser)
        group.post("logout", use: logout)
        group.get("settings", use: settings)
        group.get("health") { _, _ in
            try JSONBody.response(["name": "ecomansoni-auth", "description": "GoTrue-compatible phone sign-in"])
        }
    }

    /// The JWKS route, mounted outside the API-key gate (public keys are public).
    public func addPublicRoutes(to group: RouterGroup<AppRequestContext>) {
        group.get(".well-known/jwks.json") { _, _ in
            JSONBody.response(rawJSON: auth.tokens.jwksJSON, headers: [.cacheControl: "public, max-age=600"])
        }
    }

    struct OTPRequest: Decodable {
        var phone: String?
        var email: String?
        var create_user: Bool?
        var data: JSONValue?
        var channel: String?
    }

    @Sendable func requestCode(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await limit(context)
        let body = try await JSONBody.decode(OTPRequest.self, from: request)
        guard let phoneInput = body.phone else {
            throw AuthErrors.validation(body.email != nil ? "Only phone sign-in is supported: send phone, not email" : "phone is required")
        }
        guard let phone = PhoneNumber.normalise(phoneInput) else { throw AuthErrors.invalidPhone }
        if let channel = body.channel, channel != "sms" {
            throw AuthErrors.validation("channel must be sms")
        }
        if let data = body.data, data != .null, data.objectValue == nil {
            throw AuthErrors.validation("data must be an object")
        }
        if let members = body.data?.objectValue {
            try UserMetadata.check(members, field: "data", maxBytes: auth.settings.userMetadataMaxBytes)
        }
        try await auth.otp.requestSignInCode(
            phone: phone, createUser: body.create_user ?? true,
            metadata: body.data == .null ? nil : body.data, clientAddress: context.clientAddress)
        return try JSONBody.response([String: String]())
    }

    struct VerifyRequest: Decodable {
        var phone: String?
        var token: String?
        var type: String?
    }

    @Sendable func verify(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await limit(context)
        let body = try await JSONBody.decode(VerifyRequest.self, from: request)
        guard let phoneInput = body.phone else { throw AuthErrors.validation("phone is required (only phone verification is supported)") }
        guard let phone = PhoneNumber.normalise(phoneInput) else { throw AuthErrors.invalidPhone }
        guard let code = body.token, !code.isEmpty else { throw AuthErrors.validation("token is required") }
        // Stored with the session: U+0000 cannot go into a text column.
        let agent = (request.headers[.userAgent] ?? "").replacingOccurrences(of: "\u{0}", with: "")
        switch body.type ?? "sms" {
        case "sms":
            let presented = auth.otp.presented(phone: phone, code: code, purpose: .signIn)
            return JSONBody.response(rawJSON: SessionWriter.session(try await auth.sessions.signIn(with: presented, userAgent: agent, clientAddress: context.clientAddress)))
        case "phone_change":
            return try JSONBody.response(try await auth.confirmPhoneChange(phone: phone, code: code, userAgent: agent, clientAddress: context.clientAddress))
        default:
            throw AuthErrors.validation("type must be sms or phone_change")
        }
    }

    struct RefreshRequest: Decodable {
        var refresh_token: String?
    }

    @Sendable func token(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await limit(context)
        guard request.uri.queryParameters.get("grant_type") == "refresh_token" else {
            throw APIError(status: .badRequest, code: "invalid_credentials", message: "unsupported_grant_type")
        }
        let body = try await JSONBody.decode(RefreshRequest.self, from: request)
        guard let presented = body.refresh_token, !presented.isEmpty else {
            let data = try JSONSerialization.data(withJSONObject: ["error": "invalid_request", "error_description": "refresh_token required"])
            return JSONBody.response(rawJSON: data, status: .badRequest, headers: [.supabaseAPIVersion: "2024-01-01"])
        }
        return JSONBody.response(rawJSON: SessionWriter.session(try await auth.sessions.refresh(presented)))
    }

    @Sendable func getUser(_ request: Request, context: AppRequestContext) async throws -> Response {
        let caller = try await userCaller(request)
        return try JSONBody.response(try await auth.currentUser(caller).json)
    }

    struct UpdateUserRequest: Decodable {
        var data: [String: JSONValue]?
        var phone: String?
        var email: String?
        var password: String?
        var app_metadata: JSONValue?
    }

    @Sendable func updateUser(_ request: Request, context: AppRequestContext) async throws -> Response {
        let caller = try await userCaller(request)
        let body = try await JSONBody.decode(UpdateUserRequest.self, from: request)
        if body.app_metadata != nil {
            throw APIError(status: .forbidden, code: "not_admin", message: "User not allowed to change app_metadata")
        }
        if body.email != nil || body.password != nil {
            throw AuthErrors.validation("Only phone sign-in is supported: email and password cannot be set")
        }
        if body.phone != nil, let userID = caller.userID {
            // Before anything is looked up: the answer must not reveal whether the number is
            // taken, and the number of tries is bounded per user and per address.
            if let retry = await phoneChangeUserLimiter.acquire(userID.uuidString) {
                throw AuthErrors.requestRate(after: retry)
            }
            if let retry = await phoneChangeAddressLimiter.acquire(context.clientAddress) {
                throw AuthErrors.requestRate(after: retry)
            }
        }
        let user = try await auth.updateUser(caller, data: body.data, phone: body.phone, clientAddress: context.clientAddress)
        return try JSONBody.response(user.json)
    }

    @Sendable func logout(_ request: Request, context: AppRequestContext) async throws -> Response {
        let scope = request.uri.queryParameters.get("scope") ?? "global"
        guard ["global", "local", "others"].contains(scope) else {
            throw AuthErrors.validation("Parameter scope must be one of global, local, others")
        }
        let caller = try await userCaller(request)
        guard let userID = caller.userID else { throw AuthErrors.noAuthorization }
        try await auth.sessions.logout(userID: userID, sessionID: caller.sessionID, scope: scope)
        return Response(status: .noContent)
    }

    @Sendable func settings(_ request: Request, context: AppRequestContext) async throws -> Response {
        let external: [String: Bool] = [
            "anonymous_users": false, "apple": false, "azure": false, "bitbucket": false, "discord": false,
            "email": false, "facebook": false, "github": false, "gitlab": false, "google": false,
            "phone": true, "twitter": false,
        ]
        let body: [String: Any] = [
            "external": external, "disable_signup": !auth.settings.signupEnabled, "mailer_autoconfirm": false,
            "phone_autoconfirm": false, "sms_provider": "ecomansoni", "saml_enabled": false,
            "saml_private_key_next_configured": false, "passkeys_enabled": false,
        ]
        return JSONBody.response(rawJSON: try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys]))
    }

    /// The signed-in caller of a user endpoint, or GoTrue's 401/403.
    private func userCaller(_ request: Request) async throws -> Caller {
        guard let token = BearerToken.from(request) else { throw AuthErrors.noAuthorization }
        let caller: Caller
        do {
            caller = try await auth.tokens.caller(fromToken: token)
        } catch {
            throw AuthErrors.badJWT
        }
        guard caller.role == .authenticated else { throw AuthErrors.noAuthorization }
        return caller
    }

    private func limit(_ context: AppRequestContext) async throws {
        if let retry = await addressLimiter.acquire(context.clientAddress) {
            throw AuthErrors.requestRate(after: retry)
        }
    }
}

/// Reading `Authorization: Bearer <token>`.
public enum BearerToken {
    public static func from(_ request: Request) -> String? {
        from(authorization: request.headers[.authorization])
    }

    /// The token of an `Authorization: Bearer <token>` value (scheme in any case, the token
    /// without surrounding spaces and tabs); nil for another scheme or an empty token.
    static func from(authorization header: String?) -> String? {
        guard let header else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        // Swift's own trimming: Foundation's bridges through NSString, a measurable share of
        // a table read's server time (docs/performance.md).
        let isBlank: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = parts[1].firstIndex(where: { !isBlank($0) }), let last = parts[1].lastIndex(where: { !isBlank($0) }) else {
            return nil
        }
        return String(parts[1][first...last])
    }
}
