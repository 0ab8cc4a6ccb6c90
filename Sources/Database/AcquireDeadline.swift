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
/// The operation runs in a task of its own while the caller waits for it, and the
/// database's ``AcquireWatch`` expires it once its time has passed: a request still queued
/// for a connection is cancelled (the pool drops the request); one whose `BEGIN` is stuck on
/// an unresponsive server gets its connection closed. Either way the caller gets
/// ``DatabaseUnavailable`` and the operation's body never runs. Once `BEGIN` has succeeded
/// the deadline no longer applies.
final class AcquireDeadline: Sendable {
    private enum State {
        case waiting
        case leased(PostgresConnection)
        case began
        case expired
    }

    private let state = NIOLockedValueBox(State.waiting)
    /// When the wait for a connection and its `BEGIN` ends.
    let expiresAt: ContinuousClock.Instant

    private init(expiresAt: ContinuousClock.Instant) {
        self.expiresAt = expiresAt
    }

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

    /// The time has passed: whether the operation is abandoned (and the connection to close, if any).
    func expire() -> (abandoned: Bool, connection: PostgresConnection?) {
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

    private var hasExpired: Bool {
        state.withLockedValue { state in
            if case .expired = state { return true }
            return false
        }
    }

    /// Runs `operation`, which must call ``leased(_:)`` and ``began()`` as it gets there,
    /// giving up after `timeout` (checked by `watch`).
    static func run<Result: Sendable>(
        timeout: Duration, watch: AcquireWatch, _ operation: @Sendable (AcquireDeadline) async throws -> Result
    ) async throws -> Result {
        let deadline = AcquireDeadline(expiresAt: .now + timeout)
        return try await withoutActuallyEscaping(operation) { operation in
            // The task does not outlive this call: it is awaited on every path, also once
            // it has been cancelled, and it releases `operation` before its value is ready.
            let task = Task { try await operation(deadline) }
            let ticket = watch.add(deadline) { task.cancel() }
            defer { watch.remove(ticket) }
            do {
                return try await withTaskCancellationHandler {
                    try await task.value
                } onCancel: {
                    task.cancel()
                }
            } catch {
                if deadline.hasExpired { throw DatabaseUnavailable.error }
                throw error
            }
        }
    }
}

/// Expires the ``AcquireDeadline``s of one ``Database`` whose time has passed: one task
/// sweeps them every `tick` while any is waiting, instead of a timer for each call. A
/// deadline expires at most one tick late.
final class AcquireWatch: Sendable {
    private struct Entry: Sendable {
        var deadline: AcquireDeadline
        var cancel: @Sendable () -> Void
    }

    private struct State {
        var entries: [UInt64: Entry] = [:]
        var nextTicket: UInt64 = 0
        var sweeping = false
    }

    private let state = NIOLockedValueBox(State())
    private let tick: Duration

    /// A tick of a tenth of `timeout`, from 10 to 100 ms.
    init(timeout: Duration) {
        tick = min(max(timeout / 10, .milliseconds(10)), .milliseconds(100))
    }

    /// Watches `deadline`; `cancel` stops its operation when it expires.
    func add(_ deadline: AcquireDeadline, cancel: @escaping @Sendable () -> Void) -> UInt64 {
        let (ticket, startSweeping) = state.withLockedValue { state in
            let ticket = state.nextTicket
            state.nextTicket &+= 1
            state.entries[ticket] = Entry(deadline: deadline, cancel: cancel)
            let startSweeping = !state.sweeping
            state.sweeping = true
            return (ticket, startSweeping)
        }
        if startSweeping {
            Task.detached { await self.sweep() }
        }
        return ticket
    }

    /// Stops watching: the operation finished, one way or the other.
    func remove(_ ticket: UInt64) {
        state.withLockedValue { state in _ = state.entries.removeValue(forKey: ticket) }
    }

    /// Expires what is due every tick; ends when nothing is left to watch.
    private func sweep() async {
        while true {
            try? await Task.sleep(for: tick)
            let now = ContinuousClock.now
            let due: [Entry]? = state.withLockedValue { state in
                if state.entries.isEmpty {
                    state.sweeping = false
                    return nil
                }
                let due = state.entries.filter { $0.value.deadline.expiresAt <= now }
                for ticket in due.keys { state.entries.removeValue(forKey: ticket) }
                return Array(due.values)
            }
            guard let due else { return }
            for entry in due {
                let (abandoned, connection) = entry.deadline.expire()
                guard abandoned else { continue }
                entry.cancel()
                if let connection { Task.detached { try? await connection.close() } }
            }
        }
    }
}
