import Core
import Logging
import PostgresNIO

/// A statement run as a caller in one round trip: `public.run_as_caller` (migration 0040)
/// sets the caller's role, claims and settings transaction-locally and runs `sql` in the
/// same statement, instead of a `BEGIN`, a settings statement and a `COMMIT` around it.
///
/// `sql` refers to its values as elements of one text array (``placeholder(_:)``: `$1[1]`,
/// `$1[2]`, …); `columns` is the column definition of what it returns (`n int8, body text`),
/// or nil when it returns no rows.
public struct CallerStatement: Sendable {
    public var sql: String
    public var values: [String]
    public var columns: String?

    public init(sql: String, values: [String], columns: String?) {
        self.sql = sql
        self.values = values
        self.columns = columns
    }

    /// How `sql` names its `index`th value (from 1).
    public static func placeholder(_ index: Int) -> String {
        "$1[\(index)]"
    }

    /// The statement that runs this one as `caller` with `settings`.
    func query(as caller: Caller, settings: [String]) -> PostgresQuery {
        var bindings = PostgresBindings(capacity: 5)
        bindings.append(caller.role.rawValue)
        bindings.append(caller.claimsJSON)
        bindings.append(settings)
        bindings.append(sql)
        bindings.append(values)
        let call = "public.run_as_caller($1, $2, $3, $4, $5, \(columns == nil ? "false" : "true"))"
        return PostgresQuery(unsafeSQL: "SELECT * FROM \(call) AS _r(\(columns ?? "nothing boolean"))", binds: bindings)
    }
}

/// A pooled connection that sends ``CallerStatement``s as one caller with one set of settings.
public struct CallerConnection: Sendable {
    public let connection: PostgresConnection
    let caller: Caller
    /// Names and values in turn, as `public.run_as_caller` takes them.
    let settings: [String]
    let logger: Logger

    /// Runs `statement` as the caller; its rows, if it returns any.
    public func query(_ statement: CallerStatement) async throws -> PostgresRowSequence {
        try await connection.query(statement.query(as: caller, settings: settings), logger: logger)
    }
}

extension Database {
    /// Runs `body` with a connection whose ``CallerStatement``s run as `caller` with `settings`
    /// (transaction-local, like ``withCaller(_:_:)``'s role and claims), one round trip each.
    ///
    /// - Parameters:
    ///   - transaction: false runs each statement in its own transaction, for work that is one
    ///     statement; true wraps `body` in one, for several statements that must share it or
    ///     a check after a write that must undo it by throwing.
    ///   - translatingErrors: database errors a client could have caused come back as this
    ///     project's ``APIError``s; false leaves them as PostgreSQL raised them (the table API
    ///     answers them in PostgREST's words).
    public func withCallerStatements<Result: Sendable>(
        _ caller: Caller,
        settings: [(name: String, value: String)],
        transaction: Bool,
        translatingErrors: Bool,
        _ body: @Sendable @escaping (CallerConnection) async throws -> Result
    ) async throws -> Result {
        let flat = settings.flatMap { [$0.name, $0.value] }
        let logger = logger
        let run: @Sendable (PostgresConnection) async throws -> Result = { connection in
            try await body(CallerConnection(connection: connection, caller: caller, settings: flat, logger: logger))
        }
        guard transaction else { return try await withStatement(translatingErrors: translatingErrors, run) }
        do {
            return try await withOwner(run)
        } catch {
            guard translatingErrors else { throw error }
            throw PostgresErrorText.clientError(error) ?? error
        }
    }
}
