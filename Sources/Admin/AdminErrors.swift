import Core

/// The admin console's errors, with stable codes the web console branches on.
enum AdminErrors {
    static let notAnAdmin = APIError(status: .forbidden, code: "admin_required", message: "this account is not an active admin")
    static let wrongCode = APIError(
        status: .unauthorized, code: "admin_code_invalid", message: "code: not a current authenticator code or an unused recovery code")
    static let sessionMissing = APIError(
        status: .unauthorized, code: "admin_session_required", message: "X-Admin-Session: open an admin session with a fresh code first")
    static let sessionInvalid = APIError(
        status: .unauthorized, code: "admin_session_invalid", message: "X-Admin-Session: the admin session is unknown, ended or expired")
    static let lastOwner = APIError(
        status: .conflict, code: "admin_last_owner", message: "the last active owner cannot be removed, disabled or demoted")
    static let ownerExists = APIError(
        status: .conflict, code: "admin_owner_exists", message: "an owner already exists: bootstrap only makes the first one")

    static func scopeRequired(_ scope: AdminScope) -> APIError {
        APIError(status: .forbidden, code: "admin_scope_required", message: "this needs the admin scope \(scope.rawValue)")
    }

    static func tooManyAttempts(retryAfter: Int) -> APIError {
        .rateLimited(
            code: "admin_code_attempts", message: "too many wrong codes: wait \(retryAfter) seconds before the next attempt",
            retryAfter: retryAfter)
    }
}
