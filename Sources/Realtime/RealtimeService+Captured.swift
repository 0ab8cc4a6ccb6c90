import Core
import Foundation

extension RealtimeService {
    /// Delivers one change of the log. A feed's change goes as the feed's changes do (to the
    /// conversation's members). A captured table's change goes to this instance's channels
    /// bound to it whose filters match and whose row-level security lets them read the row,
    /// checked as each subscriber in one statement. A DELETE cannot be checked (the row is gone): it goes to
    /// every bound channel and carries only the primary key. Throws when the check cannot run,
    /// so the reader tries the change again instead of losing it.
    func deliver(_ change: CapturedChange, log: ChangeLog) async throws {
        if let envelope = change.envelope {
            // The feed's own change (a write made outside the server): delivered as the
            // feed's changes are, to the conversation's members.
            if var feedChange = feed.change(logged: envelope) {
                feedChange.commitTimestamp = change.committedAt
                await deliverHere(feedChange)
            }
            return
        }
        guard let table = hub.catalogs.captured(change.table) else { return }
        let prepared = PreparedChange(captured: change, table: table)
        let candidates = await hub.captureSubscribers(table: change.table, type: change.type, now: Int(Date().timeIntervalSince1970))
            .filter { candidate in
                candidate.subscriber.bindings.contains { $0.wants(table: change.table, type: change.type) && ($0.filter?.matches(prepared.visible) ?? true) }
            }
        guard !candidates.isEmpty else { return }
        var allowed = candidates.map { _ in true }
        if change.type != .delete {
            let claims = Array(Set(candidates.map(\.claims)))
            let visible = try await log.visible(table: change.table, key: change.keyJSON, claims: claims)
            let readers = Set(zip(claims, visible).filter(\.1).map(\.0))
            allowed = candidates.map { readers.contains($0.claims) }
        }
        let receivers = zip(candidates, allowed).filter(\.1).map { ($0.0.socket, $0.0.subscriber) }
        await hub.deliver(prepared, to: receivers)
    }
}
