import Foundation
import Synchronization

/// The resume-grace timers of this instance's dropped sessions (``CallsService/expireAfterGrace(_:)``).
///
/// They are unstructured tasks (a session outlives its socket), so the service keeps them
/// here: when it stops, ``stop()`` cancels the ones still sleeping and refuses new ones, so no
/// timer wakes up after shutdown to clean up rooms on a closing database pool. The stopping
/// instance's rooms are left to ``CallsStore/retire(instance:)`` instead.
final class GraceTimers: Sendable {
    private struct State {
        var stopped = false
        var tasks: [UUID: Task<Void, Never>] = [:]
    }

    private let state = Mutex(State())

    /// Runs `body` in a new task unless the service has stopped; false when it has. `body`
    /// sees cancellation when the service stops before it finishes.
    @discardableResult
    func start(_ body: @escaping @Sendable () async -> Void) -> Bool {
        let id = UUID()
        return state.withLock { state in
            guard !state.stopped else { return false }
            state.tasks[id] = Task {
                await body()
                self.finished(id)
            }
            return true
        }
    }

    /// Cancels every pending timer and refuses new ones.
    func stop() {
        let tasks = state.withLock { state in
            state.stopped = true
            defer { state.tasks = [:] }
            return Array(state.tasks.values)
        }
        for task in tasks { task.cancel() }
    }

    /// Timers still pending.
    var count: Int { state.withLock { $0.tasks.count } }

    private func finished(_ id: UUID) {
        _ = state.withLock { $0.tasks.removeValue(forKey: id) }
    }
}
