import Core
import NIOConcurrencyHelpers
import PostgresNIO

/// The database could not give a request a connection in time: 503 with `Retry-After`.
public enum DatabaseUnavailable {
    /// Seconds clients are told to wait before retrying.
    public static let retryAfterSeconds = 2

    /// The error every API surface renders for it.
    public static var error: APIError {
        APIError(
            status: .serviceUnavailable, code: "database_unavailable",
            message: "The database is not answering; retry shortly", retryAfterSeconds: retryAfterSeconds)
    }
}

/// Bounds how long a transaction waits for its connection and its `BEGIN`.
///
/// The operation runs in a child task next to a timer. When the timer fires first, a
/// request still queued for a connection is cancelled (the pool drops the request); one
/// whose `BEGIN` is stuck on an unresponsive server gets its connection closed. Either way
/// the caller gets ``DatabaseUnavailable`` and the operation's body never runs. Once `BEGIN`
/// has succeeded the timer no longer applies.
final class AcquireDeadline: Sendable {
    private enum State {
        case waiting
        case leased(PostgresConnection)
        case began
        case expired
    }

    private let state = NIOLockedValueBox(State.waiting)

    /// The connection was leased; throws if the deadline already passed.
    func leased(_ connection: PostgresConnection) throws {
        try state.withLockedValue { state in
            guard case .waiting = state else { throw CancellationError() }
            state = .leased(connection)
        }
    }

    /// `BEGIN` succeeded; throws if the deadline already passed.
    func began() throws {
        try state.withLockedValue { state in
            guard case .leased = state else { throw CancellationError() }
            state = .began
        }
    }

    /// The timer fired: whether the operation is abandoned (and the connection to close, if any).
    private func expire() -> (abandoned: Bool, connection: PostgresConnection?) {
        state.withLockedValue { state in
            switch state {
            case .waiting:
                state = .expired
                return (true, nil)
            case .leased(let connection):
                state = .expired
                return (true, connection)
            case .began, .expired:
                return (false, nil)
            }
        }
    }

    private enum Outcome<Result: Sendable>: Sendable {
        case finished(Result)
        case timerFired
    }

    /// Runs `operation`, which must call ``leased(_:)`` and ``began()`` as it gets there.
    static func run<Result: Sendable>(
        timeout: Duration, _ operation: @Sendable (AcquireDeadline) async throws -> Result
    ) async throws -> Result {
        let deadline = AcquireDeadline()
        // The child task does not outlive this call: the task group waits for it.
        return try await withoutActuallyEscaping(operation) { operation in
            try await withThrowingTaskGroup(of: Outcome<Result>.self) { group in
                group.addTask { .finished(try await operation(deadline)) }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    return .timerFired
                }
                while let outcome = try await group.next() {
                    switch outcome {
                    case .finished(let result):
                        group.cancelAll()
                        return result
                    case .timerFired:
                        let (abandoned, connection) = deadline.expire()
                        guard abandoned else { continue }
                        group.cancelAll()
                        if let connection { try? await connection.close() }
                        throw DatabaseUnavailable.error
                    }
                }
                throw CancellationError()
            }
        }
    }
}
