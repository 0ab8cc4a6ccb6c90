import Foundation
import Synchronization

/// The tables this instance's clients may bind to: the change feed's, fixed at start, and
/// the captured tables of the `supabase_realtime` publication, which change while the server
/// runs (an operator publishes or withdraws a table). A feed table's name wins over a
/// captured table of the same name.
final class ChangeCatalogs: Sendable {
    private struct State {
        var catalog: ChangeCatalog
        var captured: [String: CapturedTable] = [:]
        var refresh: (@Sendable () async -> Void)?
        /// The latest re-read scheduled, when it starts, and whether it has finished.
        var next: (startsAt: ContinuousClock.Instant, task: Task<Void, Never>, finished: Bool)?
    }

    private let feedTables: [ChangeTable]
    private let state: Mutex<State>

    init(feed tables: [ChangeTable]) {
        feedTables = tables
        state = Mutex(State(catalog: ChangeCatalog(tables)))
    }

    /// Every bindable table now.
    var current: ChangeCatalog { state.withLock { $0.catalog } }

    /// The source tables whose module publishes their changes itself (never captured).
    var feedSources: [String] { Array(Set(feedTables.map(\.source))).sorted() }

    /// Whether a table is one of the feed's (its changes are scoped to conversations).
    func isFeedTable(_ name: String) -> Bool { feedTables.contains { $0.name == name } }

    /// A captured table by name.
    func captured(_ name: String) -> CapturedTable? { state.withLock { $0.captured[name] } }

    /// Replaces the captured tables.
    func update(captured tables: [CapturedTable]) {
        let feedNames = Set(feedTables.map(\.name))
        let kept = tables.filter { !feedNames.contains($0.name) }
        state.withLock { state in
            state.captured = Dictionary(kept.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
            state.catalog = ChangeCatalog(feedTables, captured: kept.map(\.changeTable))
        }
    }

    /// Installs how the captured tables are re-read (the change log reader's).
    func setRefresh(_ refresh: @escaping @Sendable () async -> Void) {
        state.withLock { $0.refresh = refresh }
    }

    /// Re-reads the captured tables when some of `names` are unknown (a client binding to a
    /// table published a moment ago), so that a table published before the join is known when
    /// it returns. A join shares a re-read scheduled or running; when that one started before
    /// the join arrived and the table is still unknown, the join waits for one that starts
    /// after it. Re-reads start at most once a second.
    func refresh(ifMissing names: [String]) async {
        let arrived = ContinuousClock.now
        while true {
            let awaited: (task: Task<Void, Never>, startsAt: ContinuousClock.Instant)? = state.withLock { state in
                guard names.contains(where: { state.catalog.table($0) == nil }), let refresh = state.refresh else { return nil }
                if let next = state.next, !next.finished || next.startsAt >= arrived { return (next.task, next.startsAt) }
                let startsAt = max(arrived, (state.next?.startsAt ?? arrived) + .seconds(1))
                let task = Task {
                    try? await Task.sleep(until: startsAt)
                    await refresh()
                    self.state.withLock { state in
                        if state.next?.startsAt == startsAt { state.next?.finished = true }
                    }
                }
                state.next = (startsAt, task, false)
                return (task, startsAt)
            }
            guard let awaited else { return }
            await awaited.task.value
            if awaited.startsAt >= arrived || Task.isCancelled { return }
        }
    }
}
