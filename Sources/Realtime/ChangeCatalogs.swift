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
        /// The latest re-read and when it started: joins within a second of it wait for it.
        var lastRefresh: (startedAt: ContinuousClock.Instant, task: Task<Void, Never>)?
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
    /// table published a moment ago), at most once a second however many joins ask: a join
    /// within a second of a re-read waits for that one.
    func refresh(ifMissing names: [String]) async {
        let task: Task<Void, Never>? = state.withLock { state in
            guard names.contains(where: { state.catalog.table($0) == nil }), let refresh = state.refresh else { return nil }
            let now = ContinuousClock.now
            if let last = state.lastRefresh, now - last.startedAt < .seconds(1) { return last.task }
            let task = Task { await refresh() }
            state.lastRefresh = (now, task)
            return task
        }
        await task?.value
    }
}
