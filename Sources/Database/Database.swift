import Core
import Foundation
import Logging
import Metrics
import NIOConcurrencyHelpers
import PostgresNIO

/// The application's handle on PostgreSQL: a pooled client plus the two ways to run work.
///
/// - ``withCaller(_:_:)`` runs a transaction as the caller's non-owner role (`anon`,
///   `authenticated` or `service_role`) with its JWT claims set transaction-locally, so
///   row-level-security policies apply and nothing leaks to the next user of the connection.
/// - ``withOwner(_:)`` runs a transaction as the owning role, for the service's own
///   bookkeeping (auth sessions, codes) that no client role may touch.
public struct Database: Sendable {
    public let client: PostgresClient
    public let logger: Logger
    /// How long a transaction waits for a connection (and its `BEGIN`) before
    /// ``DatabaseUnavailable`` (`DATABASE_ACQUIRE_TIMEOUT_SECONDS`).
    public let acquireTimeout: Duration
    let acquireWatch: AcquireWatch
    let gauges: PoolGauges

    /// - Parameter poolName: names the pool in the `pool` dimension of the gauges.
    public init(
        client: PostgresClient, maximumConnections: Int, poolName: String = "main", acquireTimeout: Duration = .seconds(5),
        logger: Logger
    ) {
        self.client = client
        self.logger = logger
        self.acquireTimeout = acquireTimeout
        self.acquireWatch = AcquireWatch(timeout: acquireTimeout)
        self.gauges = PoolGauges(maximumConnections: maximumConnections, name: poolName)
    }

    /// Runs `body` in a transaction as the caller's role with its claims set; database errors
    /// a client could have caused come back as this project's ``APIError``s.
    public func withCaller<Result: Sendable>(
        _ caller: Caller,
        _ body: @Sendable (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        do {
            return try await withOwner { connection in
                try await connection.query(
                    "SELECT set_config('role', \(caller.role.rawValue), true), set_config('request.jwt.claims', \(caller.claimsJSON), true)",
                    logger: logger)
                return try await body(connection)
            }
        } catch {
            // What the caller's input broke in the database is the caller's error, not a 500.
            throw PostgresErrorText.clientError(error) ?? error
        }
    }

    /// Runs `body` in a transaction as the owning role (row-level security bypassed).
    ///
    /// Waits at most ``acquireTimeout`` for a pooled connection and its `BEGIN`; past that it
    /// throws ``DatabaseUnavailable`` (503 with `Retry-After`) and the transaction never runs,
    /// so a request its client has given up on cannot be committed later. A task cancelled
    /// while `body` runs is rolled back instead of committed.
    public func withOwner<Result: Sendable>(_ body: @Sendable (PostgresConnection) async throws -> Result) async throws -> Result {
        gauges.leased(+1)
        defer { gauges.leased(-1) }
        do {
            return try await AcquireDeadline.run(timeout: acquireTimeout, watch: acquireWatch) { deadline in
                try await client.withConnection { connection in
                    try deadline.leased(connection)
                    return try await connection.withTransaction(logger: logger) { connection in
                        try deadline.began()
                        // A request abandoned while BEGIN was on its way does no work.
                        try Task.checkCancellation()
                        let result = try await body(connection)
                        try Task.checkCancellation()
                        return result
                    }
                }
            }
        } catch let error as PostgresTransactionError {
            // Unwrap so callers see the error their own code (or the server) raised.
            if let closureError = error.closureError { throw closureError }
            if let beginError = error.beginError { throw beginError }
            if let commitError = error.commitError { throw commitError }
            throw error
        }
    }

    /// Runs `body` on a pooled connection outside an explicit transaction, so each statement
    /// commits by itself: one round trip for work that is a single statement (a function
    /// that sets the caller's role and claims itself, say). The same acquire deadline as
    /// ``withOwner(_:)``; database errors a client could have caused come back as its
    /// ``APIError`` unless `translatingErrors` is false (the table API answers them in
    /// PostgREST's words, as ``withCallerStatements(_:settings:transaction:translatingErrors:_:)`` lets it).
    public func withStatement<Result: Sendable>(
        translatingErrors: Bool = true, _ body: @Sendable (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        gauges.leased(+1)
        defer { gauges.leased(-1) }
        do {
            return try await AcquireDeadline.run(timeout: acquireTimeout, watch: acquireWatch) { deadline in
                try await client.withConnection { connection in
                    try deadline.leased(connection)
                    try deadline.began()
                    try Task.checkCancellation()
                    return try await body(connection)
                }
            }
        } catch {
            guard translatingErrors else { throw error }
            throw PostgresErrorText.clientError(error) ?? error
        }
    }

    /// Whether the server answers a trivial query.
    public func isReachable() async -> Bool {
        do {
            try await withOwner { connection in try await connection.execute("SELECT 1", []) }
            return true
        } catch {
            return false
        }
    }
}

/// Connection-pool gauges exported to `/metrics` (`db_pool_leased_connections`,
/// `db_pool_max_connections`). The gauges are kept once a metrics backend is bootstrapped;
/// until then each record looks them up again, so they reach the backend bootstrapped later.
final class PoolGauges: Sendable {
    private struct State: Sendable {
        var leased = 0
        var gauges: Gauges?
    }

    private struct Gauges: Sendable {
        var leased: Gauge
        var maximum: Gauge
    }

    private let state = NIOLockedValueBox(State())
    private let maximumConnections: Int
    private let dimensions: [(String, String)]

    init(maximumConnections: Int, name: String) {
        self.maximumConnections = maximumConnections
        self.dimensions = [("pool", name)]
    }

    func leased(_ delta: Int) {
        let (value, kept) = state.withLockedValue { state in
            state.leased += delta
            return (state.leased, state.gauges)
        }
        let gauges = kept ?? makeGauges()
        gauges.leased.record(value)
        gauges.maximum.record(maximumConnections)
    }

    private func makeGauges() -> Gauges {
        let gauges = Gauges(
            leased: Gauge(label: "db_pool_leased_connections", dimensions: dimensions),
            maximum: Gauge(label: "db_pool_max_connections", dimensions: dimensions))
        if !(MetricsSystem.factory is NOOPMetricsHandler) {
            state.withLockedValue { $0.gauges = gauges }
        }
        return gauges
    }
}
