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

    /// A one-line description with SQLSTATE and message, for logs and operator errors.
    public static func describe(_ error: any Error) -> String {
        if let state = sqlState(error) {
            return "\(state): \(message(error) ?? "")"
        }
        return String(reflecting: error)
    }
}
