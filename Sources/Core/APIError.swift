import Foundation
import Hummingbird

/// An error a client can act on: an HTTP status, a stable machine code and a human message.
///
/// Services throw it without knowing which wire format the surface uses; the route group's
/// ``ErrorShapeMiddleware`` renders it in the GoTrue, PostgREST or Functions shape.
public struct APIError: Error, Sendable, Equatable {
    public var status: HTTPResponse.Status
    /// Stable code clients branch on (`otp_expired`, `PGRST202`, `22023`, …).
    public var code: String
    public var message: String
    /// Extra detail (PostgREST `details`).
    public var details: String?
    /// A hint on how to fix the request (PostgREST `hint`).
    public var hint: String?
    /// Seconds until a rate-limited request may be retried.
    public var retryAfterSeconds: Int?
    /// The request field at fault (a JSON path such as `drivers[0].age`), for field errors.
    public var field: String?

    public init(
        status: HTTPResponse.Status,
        code: String,
        message: String,
        details: String? = nil,
        hint: String? = nil,
        retryAfterSeconds: Int? = nil
    ) {
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.hint = hint
        self.retryAfterSeconds = retryAfterSeconds
    }

    /// A request field broke a rule: 400 naming the field and the rule.
    public static func invalidField(_ field: String, _ rule: String) -> APIError {
        var error = APIError(
            status: .badRequest, code: "22023", message: "\(field): \(rule)",
            details: "invalid value for field '\(field)'", hint: rule)
        error.field = field
        return error
    }

    /// The caller may not do this.
    public static func forbidden(_ message: String) -> APIError {
        APIError(status: .forbidden, code: "42501", message: message)
    }

    /// The referenced thing does not exist (or is not visible to the caller).
    public static func notFound(_ message: String) -> APIError {
        APIError(status: .notFound, code: "PGRST116", message: message)
    }

    /// The request conflicts with the current state.
    public static func conflict(_ code: String = "23505", _ message: String) -> APIError {
        APIError(status: .conflict, code: code, message: message)
    }

    /// Too many requests; retry after the given number of seconds.
    public static func rateLimited(code: String, message: String, retryAfter: Int) -> APIError {
        APIError(status: .tooManyRequests, code: code, message: message, retryAfterSeconds: max(1, retryAfter))
    }
}
