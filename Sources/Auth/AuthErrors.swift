import Core

/// GoTrue's error codes and messages for the phone subset (compat spec §2.2).
enum AuthErrors {
    static let invalidPhone = APIError(status: .badRequest, code: "validation_failed", message: "Invalid phone number format (E.164 required)")
    static let otpExpired = APIError(status: .forbidden, code: "otp_expired", message: "Token has expired or is invalid")
    static let otpDisabled = APIError(status: .unprocessableContent, code: "otp_disabled", message: "Signups not allowed for otp")
    static let userBanned = APIError(status: .forbidden, code: "user_banned", message: "User is banned")
    static let refreshNotFound = APIError(status: .badRequest, code: "refresh_token_not_found", message: "Invalid Refresh Token: Refresh Token Not Found")
    static let refreshAlreadyUsed = APIError(status: .badRequest, code: "refresh_token_already_used", message: "Invalid Refresh Token: Already Used")
    static let noAuthorization = APIError(status: .unauthorized, code: "no_authorization", message: "This endpoint requires a valid Bearer token")
    static let badJWT = APIError(status: .forbidden, code: "bad_jwt", message: "invalid JWT: unable to parse or verify signature, token is expired or invalid")
    static let userNotFound = APIError(status: .forbidden, code: "user_not_found", message: "User from sub claim in JWT does not exist")
    static let sessionNotFound = APIError(status: .forbidden, code: "session_not_found", message: "Session from session_id claim in JWT does not exist")
    static let phoneExists = APIError(status: .unprocessableContent, code: "phone_exists", message: "A user with this phone number has already been registered")

    static func validation(_ message: String) -> APIError {
        APIError(status: .badRequest, code: "validation_failed", message: message)
    }

    static func sendRate(after seconds: Int) -> APIError {
        .rateLimited(code: "over_sms_send_rate_limit", message: "For security purposes, you can only request this after \(max(1, seconds)) seconds.", retryAfter: seconds)
    }

    static func requestRate(after seconds: Int) -> APIError {
        .rateLimited(code: "over_request_rate_limit", message: "Request rate limit reached", retryAfter: seconds)
    }

    static func smsSendFailed(_ reason: String) -> APIError {
        APIError(status: .unprocessableContent, code: "sms_send_failed", message: "Error sending confirmation OTP to provider: \(reason)")
    }
}
