import Core
import Foundation
import Hummingbird

/// `/admin/v1`: the admin console's API (docs/admin.md). Every route needs the API key and a
/// signed-in user; all but opening a session also need `X-Admin-Session`, the token a fresh
/// TOTP or recovery code opened. Responses carry `X-Request-Id` (the client's, when it sent a
/// usable one), which the audit log records.
public struct AdminController: Sendable {
    let admin: AdminService
    /// Attempts to open a session per user (10 at once, one more every 6 seconds): bounds
    /// what a non-admin can add to the audit log.
    let openings = RateLimiter(capacity: 10, refillPerSecond: 1.0 / 6)

    public init(admin: AdminService) {
        self.admin = admin
    }

    static let sessionHeader = HTTPField.Name("X-Admin-Session")!
    static let requestIDHeader = HTTPField.Name("X-Request-Id")!

    public func addRoutes(to group: RouterGroup<AppRequestContext>) {
        group.post("session") { request, context in
            struct Body: Decodable { var code: String }
            let requestID = Self.requestID(request)
            let caller = try Self.user(context)
            let code = try await JSONBody.decode(Body.self, from: request).code
            guard code.count <= 64 else { throw APIError.invalidField("code", "must be at most 64 characters") }
            if let wait = openings.acquire(try caller.requireUser().uuidString) {
                throw APIError.rateLimited(code: "over_request_rate_limit", message: "too many attempts: retry in \(wait) seconds", retryAfter: wait)
            }
            let opened = try await admin.openSession(caller, code: code, requestID: requestID)
            return try Self.json(JSONBody.encoder.encode(opened), requestID: requestID, status: .created)
        }
        group.delete("session") { request, context in
            let session = try await session(request, context)
            try await admin.closeSession(session)
            return Response(status: .noContent, headers: [Self.requestIDHeader: session.requestID])
        }
        group.get("me") { request, context in
            let session = try await session(request, context)
            return try Self.json(admin.me(session), requestID: session.requestID)
        }
        group.get("admins") { request, context in
            let session = try await session(request, context)
            return Self.json(try await admin.admins(session), requestID: session.requestID)
        }
        group.post("admins/:user_id/status") { request, context in
            struct Body: Decodable { var active: Bool; var reason: String }
            let session = try await session(request, context)
            guard let target = context.parameters.get("user_id").flatMap(UUID.init(uuidString:)) else {
                throw APIError.invalidField("user_id", "must be a user id (UUID)")
            }
            let body = try await JSONBody.decode(Body.self, from: request)
            try await admin.setStatus(session, target: target, active: body.active, reason: body.reason)
            return Response(status: .noContent, headers: [Self.requestIDHeader: session.requestID])
        }
        group.get("audit") { request, context in
            let session = try await session(request, context)
            var parameters: [String: String] = [:]
            for (name, value) in request.uri.queryParameters {
                guard parameters[String(name)] == nil else { throw APIError.invalidField(String(name), "must be given once") }
                parameters[String(name)] = String(value)
            }
            let query = try AuditQuery.parse(parameters)
            return Self.json(try await admin.auditEntries(session, query), requestID: session.requestID)
        }
        group.get("audit/verify") { request, context in
            let session = try await session(request, context)
            return try Self.json(JSONBody.encoder.encode(try await admin.verifyAudit(session)), requestID: session.requestID)
        }
    }

    /// The request's admin session (401 without a live one).
    func session(_ request: Request, _ context: AppRequestContext) async throws -> AdminSession {
        try await admin.session(try Self.user(context), token: request.headers[Self.sessionHeader], requestID: Self.requestID(request))
    }

    static func user(_ context: AppRequestContext) throws -> Caller {
        let caller = context.caller ?? .anonymous
        _ = try caller.requireUser()
        return caller
    }

    /// The client's `X-Request-Id` when it is 1–64 URL-safe characters, else a new UUID.
    static func requestID(_ request: Request) -> String {
        if let given = request.headers[requestIDHeader], (1...64).contains(given.utf8.count),
            given.utf8.allSatisfy({ $0 < 0x80 && (isalnum(Int32($0)) != 0 || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".")) })
        {
            return given
        }
        return UUID().uuidString.lowercased()
    }

    static func json(_ data: Data, requestID: String, status: HTTPResponse.Status = .ok) -> Response {
        JSONBody.response(rawJSON: data, status: status, headers: [requestIDHeader: requestID])
    }
}
