import Core
import Foundation

extension RealtimeService {
    /// Delivers a page of the change log, in order. A feed's change goes as the feed's changes
    /// do (to the conversation's members). A captured table's change goes to this instance's
    /// channels bound to it whose filters match and whose row-level security lets them read
    /// the row; the rows of a page are checked for all their subscribers in one statement per
    /// table. A DELETE cannot be checked (the row is gone): it goes to every bound channel and
    /// carries only the primary key. Throws, having delivered nothing, when a check cannot
    /// run, so the reader tries the page again instead of losing it.
    func deliver(_ changes: [CapturedChange], log: ChangeLog) async throws {
        let now = Int(Date().timeIntervalSince1970)
        var subscribers: [String: [(socket: RealtimeHub.SocketID, subscriber: ChangeSubscriber, claims: String)]] = [:]
        var prepared: [Int: (change: PreparedChange, candidates: [(socket: RealtimeHub.SocketID, subscriber: ChangeSubscriber, claims: String)])] = [:]
        // Per table: the changes to check, and the subscribers to check them for.
        var checks: [String: (changes: [Int], claims: [String: Int])] = [:]
        for (index, change) in changes.enumerated() where change.envelope == nil {
            guard let table = hub.catalogs.captured(change.table) else { continue }
            let ready = PreparedChange(captured: change, table: table)
            let bound = "\(change.table)\u{0}\(change.type.rawValue)"
            if subscribers[bound] == nil {
                subscribers[bound] = await hub.captureSubscribers(table: change.table, type: change.type, now: now)
            }
            let candidates = (subscribers[bound] ?? []).filter { candidate in
                candidate.subscriber.bindings.contains { $0.wants(table: change.table, type: change.type) && ($0.filter?.matches(ready.visible) ?? true) }
            }
            guard !candidates.isEmpty else { continue }
            prepared[index] = (ready, candidates)
            if change.type != .delete {
                var check = checks[change.table] ?? ([], [:])
                check.changes.append(index)
                for candidate in candidates where check.claims[candidate.claims] == nil { check.claims[candidate.claims] = check.claims.count }
                checks[change.table] = check
            }
        }
        // Which (change, claims) pairs may be read; unchecked changes (DELETE) go to every candidate.
        var readable: [Int: Set<String>] = [:]
        for (table, check) in checks {
            let claims = check.claims.sorted { $0.value < $1.value }.map(\.key)
            let rows = check.changes.map { changes[$0].recordJSON ?? "{}" }
            for pair in try await log.visible(table: table, rows: rows, claims: claims) {
                readable[check.changes[pair.row], default: []].insert(claims[pair.claim])
            }
        }
        for (index, change) in changes.enumerated() {
            if let envelope = change.envelope {
                if var feedChange = feed.change(logged: envelope) {
                    feedChange.commitTimestamp = change.committedAt
                    await deliverHere(feedChange)
                }
                continue
            }
            guard let (ready, candidates) = prepared[index] else { continue }
            let receivers = change.type == .delete ? candidates : candidates.filter { readable[index]?.contains($0.claims) ?? false }
            await hub.deliver(ready, to: receivers.map { ($0.socket, $0.subscriber) })
        }
    }
}
