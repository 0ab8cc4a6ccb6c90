import Core
import Database

/// PostgreSQL errors answered as PostgREST answers them: the server's SQLSTATE as `code`, its
/// message, detail and hint verbatim, and PostgREST's status for the class
/// (docs/tables.md, "Errors"); conflicts of concurrent transactions (`40…`) are 503 so a
/// client retries them.
enum PostgRESTErrors {
    /// The API error for a database error, or nil when it is not a server error.
    static func translate(_ error: any Error, caller: Caller) -> APIError? {
        guard let state = PostgresErrorText.sqlState(error) else { return nil }
        let message = PostgresErrorText.message(error) ?? "database error"
        let detail = PostgresErrorText.detail(error)
        let hint = PostgresErrorText.hint(error)
        return APIError(status: status(state, caller: caller), code: state, message: message, details: detail, hint: hint)
    }

    /// PostgREST's HTTP status for a SQLSTATE. Statement timeouts are 400 here (a request's
    /// own cost), where PostgREST answers 500.
    static func status(_ state: String, caller: Caller) -> HTTPResponse.Status {
        // PostgREST's convention: `RAISE … USING ERRCODE = 'PT429'` answers HTTP 429.
        if state.hasPrefix("PT"), state.utf8.count == 5, let code = Int(state.dropFirst(2)), (400...599).contains(code) {
            return HTTPResponse.Status(code: code)
        }
        switch state {
        case "23503", "23505": return .conflict
        case "25006": return .methodNotAllowed
        case "42501": return caller.role == .anon ? .unauthorized : .forbidden
        case "42P01", "42883": return .notFound
        case "P0001", "57014": return .badRequest
        case "53300", "53400": return .serviceUnavailable
        default: break
        }
        switch state.prefix(2) {
        case "08", "53", "40", "57": return .serviceUnavailable
        case "0L", "0P", "28": return .forbidden
        case "09", "25", "2D", "38", "39", "3B", "54", "55", "58", "F0", "HV", "P0", "XX": return .internalServerError
        default: return .badRequest
        }
    }
}
