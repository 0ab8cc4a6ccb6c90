import Foundation

/// Wakes idle worker loops: `signal()` (a `NOTIFY reels_jobs`) ends every current `wait`;
/// a wait also ends after its timeout (the poll) or when its task is cancelled.
actor ReelsWorkerWake {
    private var waiters: [UUID: CheckedContinuation<Void, Never>] = [:]
    private var endedEarly: Set<UUID> = []

    func signal() {
        for waiter in waiters.values { waiter.resume() }
        waiters.removeAll()
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
            await self.end(id)
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
