import NIOConcurrencyHelpers

/// Cancels a connection's request task when its client goes away mid-request.
///
/// Hummingbird answers an HTTP/1 connection's requests in the connection's own task, so
/// cancelling that task cancels the request in flight: a transaction still waiting for its
/// connection is withdrawn, and one that has not committed rolls back (`Database.withOwner`
/// checks for cancellation before `COMMIT`). Fired by ``ConnectionGuardHandler`` when the
/// client closes its side while a request is being answered.
final class AbandonedRequestSignal: Sendable {
    private struct State {
        var task: Task<Void, Never>?
        var fired = false
    }

    private let state = NIOLockedValueBox(State())

    /// The task to cancel (cancelled at once if the client is already gone).
    func attach(_ task: Task<Void, Never>) {
        let fired = state.withLockedValue { state in
            state.task = task
            return state.fired
        }
        if fired { task.cancel() }
    }

    /// The client went away during a request.
    func fire() {
        let task = state.withLockedValue { state in
            state.fired = true
            return state.task
        }
        task?.cancel()
    }
}
