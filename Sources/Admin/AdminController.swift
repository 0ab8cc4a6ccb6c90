import Core
import Foundation
import Hummingbird

/// `/admin/v1`: the admin console's API (docs/admin.md). Every route needs the API key and a
/// signed-in user; all but opening a session and enrolling also need `X-Admin-Session`, the
/// token a fresh TOTP or recovery code opened. Successful responses carry `X-Request-Id` (the
/// client's, when it sent a usable one), which the audit log records.
public struct AdminController: Sendable {
    let admin: AdminService
    /// Attempts to open a session or enrol, per user (10 at once, one more every 6 seconds):
    /// bounds what a non-admin can add to the audit log.
    let openings: RateLimiter

    /// `buckets` keeps the per-user limits (shared by the instances when the server has Redis).
    public init(admin: AdminService, buckets: (any TokenBucketStore)? = nil) {
        self.admin = admin
        self.openings = RateLimiter(name: "admin.session_openings", capacity: 10, refillPerSecond: 1.0 / 6, store: buckets)
    }

    static let sessionHeader = HTTPField.Name("X-Admin-Session")!
    static let requestIDHeader = HTTPField.Name("X-Request-Id")!

    public func addRoutes(to group: RouterGroup<AppRequestContext>) {
        group.post("session") { request, context in
            struct Body: Decodable { var code: String }
            let requestID = context.requestID ?? Self.requestID(request)
            let caller = try Self.user(context)
            let code = try await JSONBody.decode(Body.self, from: request).code
            guard code.count <= 64 else { throw APIError.invalidField("code", "must be at most 64 characters") }
            if let wait = await openings.acquire(try caller.requireUser().uuidString) {
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
            let target = try Self.uuid(context, "user_id")
            let body = try await JSONBody.decode(Body.self, from: request)
            try await admin.setStatus(session, target: target, active: body.active, reason: body.reason)
            return Response(status: .noContent, headers: [Self.requestIDHeader: session.requestID])
        }
        group.post("admins/:user_id/remove") { request, context in
            struct Body: Decodable { var reason: String }
            let session = try await session(request, context)
            let target = try Self.uuid(context, "user_id")
            try await admin.removeAdmin(session, target: target, reason: try await JSONBody.decode(Body.self, from: request).reason)
            return Response(status: .noContent, headers: [Self.requestIDHeader: session.requestID])
        }
        group.post("admins/:user_id/reset-authenticator") { request, context in
            struct Body: Decodable { var reason: String }
            let session = try await session(request, context)
            let target = try Self.uuid(context, "user_id")
            try await admin.resetAuthenticator(session, target: target, reason: try await JSONBody.decode(Body.self, from: request).reason)
            return Response(status: .noContent, headers: [Self.requestIDHeader: session.requestID])
        }
        group.post("admins") { request, context in
            struct Body: Decodable { var user_id: UUID; var reason: String }
            let session = try await session(request, context)
            let body = try await JSONBody.decode(Body.self, from: request)
            try await admin.addAdmin(session, userID: body.user_id, reason: body.reason)
            return Response(status: .created, headers: [Self.requestIDHeader: session.requestID])
        }
        group.post("enrol") { request, context in
            let requestID = context.requestID ?? Self.requestID(request)
            let caller = try Self.user(context)
            if let wait = await openings.acquire(try caller.requireUser().uuidString) {
                throw APIError.rateLimited(code: "over_request_rate_limit", message: "too many attempts: retry in \(wait) seconds", retryAfter: wait)
            }
            let enrolment = try await admin.enrol(caller, requestID: requestID)
            struct Shown: Encodable { var secret: String; var otpauth_uri: String; var recovery_codes: [String] }
            let shown = Shown(secret: enrolment.base32Secret, otpauth_uri: enrolment.otpauthURI, recovery_codes: enrolment.recoveryCodes)
            var response = Self.json(try JSONBody.encoder.encode(shown), requestID: requestID, status: .created)
            response.headers[.cacheControl] = "no-store"
            return response
        }
        group.post("grants") { request, context in
            struct Body: Decodable { var user_id: UUID; var role: AdminRole; var reason: String }
            let session = try await session(request, context)
            let body = try await JSONBody.decode(Body.self, from: request)
            let outcome = try await admin.requestRole(session, target: body.user_id, role: body.role, minutes: nil, reason: body.reason)
            return Self.json(try JSONBody.encoder.encode(outcome), requestID: session.requestID, status: outcome.status == "pending" ? .accepted : .created)
        }
        group.post("jit") { request, context in
            struct Body: Decodable { var role: AdminRole; var minutes: Int; var reason: String }
            let session = try await session(request, context)
            let body = try await JSONBody.decode(Body.self, from: request)
            let outcome = try await admin.requestRole(session, target: session.userID, role: body.role, minutes: body.minutes, reason: body.reason)
            return Self.json(try JSONBody.encoder.encode(outcome), requestID: session.requestID, status: outcome.status == "pending" ? .accepted : .created)
        }
        group.post("grants/:grant_id/revoke") { request, context in
            struct Body: Decodable { var reason: String }
            let session = try await session(request, context)
            let grant = try Self.uuid(context, "grant_id")
            try await admin.revokeGrant(session, grantID: grant, reason: try await JSONBody.decode(Body.self, from: request).reason)
            return Response(status: .noContent, headers: [Self.requestIDHeader: session.requestID])
        }
        group.get("requests") { request, context in
            let session = try await session(request, context)
            return Self.json(try await admin.requests(session), requestID: session.requestID)
        }
        for decision in ["approve", "deny"] {
            group.post("requests/:request_id/\(decision)") { request, context in
                struct Body: Decodable { var reason: String }
                let session = try await session(request, context)
                let id = try Self.uuid(context, "request_id")
                let reason = try await JSONBody.decode(Body.self, from: request).reason
                let status = try await admin.decide(session, requestID: id, approve: decision == "approve", reason: reason)
                return Self.json(Data(#"{"status":"\#(status)"}"#.utf8), requestID: session.requestID)
            }
        }
        group.post("requests/:request_id/execute") { request, context in
            let session = try await session(request, context)
            let outcome = try await admin.execute(session, requestID: try Self.uuid(context, "request_id"))
            return Self.json(try JSONBody.encoder.encode(outcome), requestID: session.requestID, status: .created)
        }
        group.get("dashboard") { request, context in
            let session = try await session(request, context)
            return Self.json(try await admin.dashboard(session), requestID: session.requestID)
        }
        group.get("kill-switches") { request, context in
            let session = try await session(request, context)
            return Self.json(try await admin.killSwitchStates(session), requestID: session.requestID)
        }
        group.post("kill-switches/:name") { request, context in
            struct Body: Decodable { var engaged: Bool; var reason: String }
            let session = try await session(request, context)
            guard let killSwitch = context.parameters.get("name").flatMap(KillSwitch.init(rawValue:)) else {
                throw APIError.invalidField("name", "must be one of \(KillSwitch.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            let body = try await JSONBody.decode(Body.self, from: request)
            try await admin.setKillSwitch(session, killSwitch, engaged: body.engaged, reason: body.reason)
            return Response(status: .noContent, headers: [Self.requestIDHeader: session.requestID])
        }
        addModerationRoutes(to: group)
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
        try await admin.session(try Self.user(context), token: request.headers[Self.sessionHeader], requestID: context.requestID ?? Self.requestID(request))
    }

    /// The path parameter `name` as a UUID, or 400 naming it.
    static func uuid(_ context: AppRequestContext, _ name: String) throws -> UUID {
        guard let id = context.parameters.get(name).flatMap(UUID.init(uuidString:)) else {
            throw APIError.invalidField(name, "must be a UUID")
        }
        return id
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
