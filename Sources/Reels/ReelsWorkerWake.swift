import Foundation
import Logging
import PostgresNIO

/// Wakes idle worker loops: `signal()` (a `NOTIFY reels_jobs`) ends every current `wait`;
/// a wait also ends after its timeout (the poll) or when its task is cancelled.
actor ReelsWorkerWake {
    /// The channel the job queue's trigger notifies (migration 0019).
    static let channel = "reels_jobs"
    private var waiters: [UUID: CheckedContinuation<Void, Never>] = [:]
    private var endedEarly: Set<UUID> = []

    func signal() {
        for waiter in waiters.values { waiter.resume() }
        waiters.removeAll()
    }

    /// Signals on every `NOTIFY reels_jobs`, and each time it (re)connects (for jobs queued
    /// while it was away), on a dedicated connection of its own: never one of the pool's,
    /// which serve requests. A lost connection is opened again after a backoff (0.1 s,
    /// doubling up to 5 s); the connection is closed when the task is cancelled.
    nonisolated func listen(configuration: PostgresConnection.Configuration, logger: Logger) async {
        var backoff: Duration = .milliseconds(100)
        while !Task.isCancelled {
            do {
                let connection = try await PostgresConnection.connect(configuration: configuration, id: 0, logger: logger)
                do {
                    try await connection.listen(on: Self.channel) { notifications in
                        backoff = .milliseconds(100)
                        await self.signal()
                        for try await _ in notifications { await self.signal() }
                    }
                } catch {
                    try? await connection.close()
                    throw error
                }
                try? await connection.close()
            } catch {
                if Task.isCancelled { return }
                logger.warning(
                    "reels worker: NOTIFY listener lost its connection; polling until it is back", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: backoff)
            backoff = min(backoff * 2, .seconds(5))
        }
    }

    func wait(upTo timeout: Duration) async {
        let id = UUID()
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.suspend(id) }
            group.addTask {
                try? await Task.sleep(for: timeout)
                await self.end(id)
            }
            await group.next()
            group.cancelAll()
            self.end(id)
        }
        forget(id)
    }

    private func forget(_ id: UUID) {
        endedEarly.remove(id)
        waiters.removeValue(forKey: id)?.resume()
    }

    private func suspend(_ id: UUID) async {
        if endedEarly.remove(id) != nil { return }
        await withCheckedContinuation { waiters[id] = $0 }
    }

    private func end(_ id: UUID) {
        if let waiter = waiters.removeValue(forKey: id) {
            waiter.resume()
        } else if !endedEarly.contains(id) {
            endedEarly.insert(id)
        }
    }
}
