import Core
import Database
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Follows the change log of the published tables (migration 0036) for this instance: keeps
/// the capture triggers and the bindable tables in step with the `supabase_realtime`
/// publication, reads each committed change once in commit-safe order, delivers it to this
/// instance's subscribers (``RealtimeService/deliver(_:log:)``) and saves how far it got under
/// the instance's name, so a restart goes on where it stopped: nothing committed meanwhile
/// is lost, nothing delivered is sent again.
///
/// It polls every ``ChangeCaptureSettings/pollInterval`` (25 ms by default): a NOTIFY from the
/// capture trigger would serialise every writer's commit, and one query that finds nothing
/// is cheap.
public final class ChangeLogReader: Service {
    /// How often changes past the retention are deleted.
    static let pruneInterval = Duration.seconds(60)
    /// How often a moving position is saved at most (a crash redelivers at most this much).
    static let saveInterval = Duration.seconds(1)

    private let realtime: RealtimeService
    private let log: ChangeLog
    private let settings: ChangeCaptureSettings
    private let instance: String
    private let logger: Logger
    /// Published tables already reported as not captured (each is reported once).
    private let reported = Mutex<Set<String>>([])

    /// - Parameters:
    ///   - database: the owner-role pool (realtime's).
    ///   - instance: the name the position is kept under, stable across restarts.
    public init(
        realtime: RealtimeService, database: Database, settings: ChangeCaptureSettings, instance: String, logger: Logger
    ) {
        self.realtime = realtime
        self.log = ChangeLog(database: database)
        self.settings = settings
        self.instance = instance
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown { await self.follow() }
    }

    private func follow() async {
        realtime.hub.catalogs.setRefresh { [self] in await self.refreshCatalog() }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { [self] in await repeating(every: settings.catalogInterval) { await self.refreshCatalog() } }
            group.addTask { [self] in await repeating(every: Self.pruneInterval) { await self.prune() } }
            group.addTask { [self] in await deliver() }
            await group.next()
            group.cancelAll()
        }
    }

    /// Reads and delivers the log every ``ChangeCaptureSettings/pollInterval`` until
    /// cancelled (a page at a time, as long as pages come full); saves the position at most
    /// once a second while it moves, every 10 seconds when it does not, and when it stops.
    private func deliver() async {
        guard var position = await startingPosition() else { return }
        var saved = position
        var savedAt = ContinuousClock.now
        var delivered = false
        while !Task.isCancelled {
            // Polls start on a fixed schedule: the time a cycle takes is not added to the wait.
            let cycleStarted = ContinuousClock.now
            do {
                while !Task.isCancelled {
                    let page = try await log.page(after: position, limit: settings.pageSize)
                    try await realtime.deliver(page.changes, log: log)
                    position = page.next
                    delivered = delivered || !page.changes.isEmpty
                    if page.changes.count < settings.pageSize { break }
                }
            } catch {
                if Task.isCancelled { break }
                logger.warning("could not deliver from the change log; trying again", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: .seconds(1))
            }
            // Saved at most once a second after deliveries (a save is a commit, which the next
            // poll would otherwise wait for), and every 10 s even unmoved: a live instance's
            // position never looks dead to the pruning.
            let sinceSave = ContinuousClock.now - savedAt
            if (delivered && position != saved && sinceSave >= Self.saveInterval) || sinceSave > .seconds(10) {
                if (try? await log.save(position, of: instance)) != nil {
                    saved = position
                    savedAt = .now
                    delivered = false
                }
            }
            try? await Task.sleep(until: cycleStarted + settings.pollInterval, clock: .continuous)
        }
        // Cancelled: the last position is saved outside the cancelled task.
        if position != saved {
            let log = log, instance = instance
            await Task { try? await log.save(position, of: instance) }.value
        }
    }

    /// Where this instance goes on from: its saved position (after a grace for its clients to
    /// come back when changes are waiting), or the present for an instance never seen.
    private func startingPosition() async -> ChangeLog.Position? {
        while !Task.isCancelled {
            do {
                await refreshCatalog()
                if let saved = try await log.savedPosition(of: instance) {
                    if settings.resumeGrace > .zero, try await log.hasChanges(after: saved) {
                        logger.notice(
                            "resuming the change log with changes waiting; delivering them after the resume grace",
                            metadata: ["instance": "\(instance)"])
                        try await Task.sleep(for: settings.resumeGrace)
                    }
                    return saved
                }
                let position = try await log.currentPosition()
                try await log.save(position, of: instance)
                return position
            } catch {
                if Task.isCancelled { return nil }
                logger.warning("could not open the change log; trying again", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: .seconds(1))
            }
        }
        return nil
    }

    /// Brings the capture triggers in step with the publication and re-reads the bindable
    /// captured tables; a published table that cannot be captured is reported once.
    func refreshCatalog() async {
        do {
            let statuses = try await log.sync(exempt: realtime.hub.catalogs.feedSources)
            for (table, status) in statuses where status != "captured" && status != "exempt" {
                let first = reported.withLock { $0.insert(table).inserted }
                if first {
                    logger.warning("a published table is not captured", metadata: ["table": "\(table)", "reason": "\(status)"])
                }
            }
            realtime.hub.catalogs.update(captured: try await log.capturedTables())
        } catch {
            logger.warning("could not read the published tables", metadata: ["error": "\(error)"])
        }
    }

    private func prune() async {
        do {
            let deleted = try await log.prune(olderThan: settings.retention)
            if deleted > 0 { logger.info("old changes pruned from the change log", metadata: ["changes": "\(deleted)"]) }
        } catch {
            logger.warning("could not prune the change log", metadata: ["error": "\(error)"])
        }
    }

    private func repeating(every interval: Duration, _ body: @Sendable () async -> Void) async {
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            if Task.isCancelled { return }
            await body()
        }
    }
}
