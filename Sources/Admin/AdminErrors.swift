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

/// Errors of requests, approvals and grants.
extension AdminErrors {
    static let requestNotFound = APIError(status: .notFound, code: "admin_request_not_found", message: "request_id: no such request")
    static let requestClosed = APIError(
        status: .conflict, code: "admin_request_closed", message: "the request is no longer pending: it was decided already")
    static let requestExpired = APIError(
        status: .conflict, code: "admin_request_expired", message: "the request expired (requests and their approvals last 24 hours)")
    static let requestNotApproved = APIError(
        status: .conflict, code: "admin_request_not_approved", message: "the request is not approved (yet, or it was denied)")
    static let requestConsumed = APIError(
        status: .conflict, code: "admin_request_consumed", message: "the request was executed already: an approval authorises one change")
    static let selfApproval = APIError(status: .forbidden, code: "admin_self_approval", message: "nobody decides their own request")
    static let alreadyDecided = APIError(status: .conflict, code: "admin_already_decided", message: "you decided this request already")
    static let notRequester = APIError(
        status: .forbidden, code: "admin_not_requester", message: "only the admin who made the request executes it")
    static let roleHeld = APIError(status: .conflict, code: "admin_role_held", message: "role: the admin holds this role already")
    static let targetNotAdmin = APIError(status: .notFound, code: "admin_target_not_found", message: "user_id: no active admin with this id")
    static let alreadyAdmin = APIError(status: .conflict, code: "admin_exists", message: "user_id: this user is an admin already")
    static let userNotFound = APIError(status: .notFound, code: "user_not_found", message: "user_id: no user with this id")
    static let grantNotFound = APIError(status: .notFound, code: "admin_grant_not_found", message: "grant_id: no live grant with this id")
    static let notEnrolled = APIError(
        status: .forbidden, code: "admin_not_enrolled", message: "set up your authenticator first (POST /admin/v1/enrol)")
    static let alreadyEnrolled = APIError(
        status: .conflict, code: "admin_already_enrolled", message: "the authenticator was set up already; it is shown only once")

    static let accountsNotServed = APIError(status: .notFound, code: "admin_accounts_not_served", message: "account lookup is not served here")
    static let accountNotFound = APIError(status: .notFound, code: "user_not_found", message: "no account with this id or phone number")
    static let reelsNotServed = APIError(
        status: .notFound, code: "admin_reels_not_served", message: "this server runs without reels (no storage backend)")
    static let hashtagBlocked = APIError(status: .conflict, code: "admin_hashtag_blocked", message: "tag: this hashtag is blocked already")
    static let hashtagNotBlocked = APIError(status: .notFound, code: "admin_hashtag_not_blocked", message: "tag: this hashtag is not blocked")
    static let reportsNotServed = APIError(
        status: .notFound, code: "admin_reports_not_served", message: "this server does not serve chat and profiles")
    static let warningNotFound = APIError(status: .notFound, code: "warning_not_found", message: "warning_id: no such warning of yours")

    static func reportedNotFound(_ kind: ReportedKind) -> APIError {
        switch kind {
        case .messages: APIError(status: .notFound, code: "admin_message_not_found", message: "message_id: no message with this id")
        case .profiles: APIError(status: .notFound, code: "admin_profile_not_found", message: "user_id: no profile with this id")
        }
    }

    static let reelNotFound = APIError(status: .notFound, code: "admin_reel_not_found", message: "reel_id: no ready reel with this id")

    static func approverRole(_ role: String) -> APIError {
        APIError(status: .forbidden, code: "admin_approver_role", message: "deciding this request needs the role \(role)")
    }
}
