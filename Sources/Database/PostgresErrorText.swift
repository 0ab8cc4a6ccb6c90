import Core
import PostgresNIO

/// Reading the useful parts of a PostgreSQL error.
public enum PostgresErrorText {
    /// The SQLSTATE of a server error (`23505`, `P0001`, …), if it is one.
    public static func sqlState(_ error: any Error) -> String? {
        (error as? PSQLError)?.serverInfo?[.sqlState]
    }

    /// The server's message of a server error.
    public static func message(_ error: any Error) -> String? {
        (error as? PSQLError)?.serverInfo?[.message]
    }

    /// The server's detail text of a server error.
    public static func detail(_ error: any Error) -> String? {
        (error as? PSQLError)?.serverInfo?[.detail]
    }

    /// The server's hint text of a server error.
    public static func hint(_ error: any Error) -> String? {
        (error as? PSQLError)?.serverInfo?[.hint]
    }

    /// A one-line description with SQLSTATE and message, for logs and operator errors.
    public static func describe(_ error: any Error) -> String {
        if let state = sqlState(error) {
            return "\(state): \(message(error) ?? "")"
        }
        return String(reflecting: error)
    }

    /// The client-facing error for a database error a request could have caused (a broken
    /// constraint, a refused row-level-security check), or nil for server faults.
    public static func clientError(_ error: any Error) -> APIError? {
        guard let state = sqlState(error) else { return nil }
        let constraint = (error as? PSQLError)?.serverInfo?[.constraintName]
        let rule = constraint.map { "breaks the rule \($0)" } ?? (message(error) ?? "breaks a rule")
        switch state {
        case "23505":
            return APIError(status: .conflict, code: state, message: "already exists: \(rule)", details: detail(error))
        case "23514", "23502", "22001", "22003", "22007", "22008":
            return APIError(status: .badRequest, code: "22023", message: "invalid value: \(rule)", details: detail(error))
        case "22P02":
            return APIError(status: .badRequest, code: state, message: message(error) ?? "invalid input syntax")
        case "23503":
            return APIError(status: .conflict, code: state, message: "refers to something that does not exist: \(rule)")
        case "42501":
            // Our own functions raise explanations; the engine's texts only name tables.
            let text = message(error) ?? ""
            let generic = text.isEmpty || text.hasPrefix("permission denied") || text.hasPrefix("new row violates")
            return APIError(status: .forbidden, code: state, message: generic ? "permission denied" : text)
        case "22023":
            return APIError(status: .badRequest, code: state, message: message(error) ?? "invalid argument")
        case "P0002":
            return APIError(status: .notFound, code: "PGRST116", message: message(error) ?? "not found")
        case "P0001":
            return APIError(status: .badRequest, code: state, message: message(error) ?? "refused")
        default:
            return nil
        }
    }
}
