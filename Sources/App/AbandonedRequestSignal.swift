import NIOConcurrencyHelpers

/// Cancels a connection's request task when its client goes away mid-request.
///
/// Hummingbird answers an HTTP/1 connection's requests in the connection's own task, so
/// cancelling that task cancels the request in flight: a transaction still waiting for its
/// connection is withdrawn, and one that has not committed rolls back (`Database.withOwner`
/// checks for cancellation before `COMMIT`). Fired by ``ConnectionGuardHandler`` when the
/// client closes its side while a request is being answered.
final class AbandonedRequestSignal: Sendable {
    /// The connection's task while it serves the connection.
    ///
    /// `UnsafeCurrentTask` may only be used while its task runs: ``serving(_:)`` holds it from
    /// the start of its work to its end, and lets go under the lock, so ``fire()`` never sees
    /// it afterwards. Cancelling a task is safe from any thread.
    private struct RunningTask: @unchecked Sendable {
        let task: UnsafeCurrentTask
    }

    private struct State {
        var running: RunningTask?
        var fired = false
    }

    private let state = NIOLockedValueBox(State())

    /// Runs `work` in the calling task, which the signal cancels if the client goes away
    /// before `work` ends (at once if it is already gone).
    ///
    /// No task of its own: a connection's task lives as long as the connection, and a second
    /// one would hold its own memory (and a copy of the task-local values) for as long.
    func serving(_ work: () async -> Void) async {
        await withUnsafeCurrentTask { task in
            let fired = state.withLockedValue { state in
                state.running = task.map(RunningTask.init)
                return state.fired
            }
            if fired { task?.cancel() }
            await work()
            state.withLockedValue { $0.running = nil }
        }
    }

    /// The client went away during a request.
    func fire() {
        state.withLockedValue { state in
            state.fired = true
            state.running?.task.cancel()
        }
    }
}
