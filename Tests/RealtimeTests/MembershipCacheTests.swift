import Core
import Foundation
import Testing

@testable import Realtime

/// A feed whose member reads return queued snapshots, each held until the test releases it.
private actor ScriptedFeedState {
    var snapshots: [Set<UUID>]
    var reads = 0
    var gate: CheckedContinuation<Void, Never>?
    var waiting: CheckedContinuation<Void, Never>?

    init(_ snapshots: [Set<UUID>]) { self.snapshots = snapshots }

    func read() async -> Set<UUID> {
        reads += 1
        let snapshot = snapshots.isEmpty ? [] : snapshots.removeFirst()
        if reads == 1 {
            // The first read takes its snapshot, then waits (a slow query).
            waiting?.resume()
            waiting = nil
            await withCheckedContinuation { gate = $0 }
        }
        return snapshot
    }

    func firstReadStarted() async {
        if reads > 0 { return }
        await withCheckedContinuation { waiting = $0 }
    }

    func release() {
        gate?.resume()
        gate = nil
    }
}

private struct ScriptedFeed: ChangeFeed {
    let state: ScriptedFeedState
    var tables: [ChangeTable] { [] }
    func record(for change: ChangeEnvelope) async throws -> [String: JSONValue]? { nil }
    func members(of conversation: UUID) async throws -> Set<UUID> { await state.read() }
    func change(logged envelope: String) -> ChangeEnvelope? { nil }
}

@Suite struct MembershipCacheTests {
    /// Review finding: a member removed while their conversation's members were being read
    /// was let back in by the older snapshot, for the cache's whole time to live.
    @Test func aRemovalDuringAReadIsNotUndoneByItsOlderSnapshot() async throws {
        let conversation = UUID(), stays = UUID(), removed = UUID()
        let state = ScriptedFeedState([[stays, removed], [stays]])
        let cache = MembershipCache(feed: ScriptedFeed(state: state))
        async let members = cache.members(of: conversation)
        await state.firstReadStarted()
        await cache.apply(.left(removed), in: conversation)
        await state.release()
        #expect(try await members == [stays])
        #expect(try await cache.members(of: conversation) == [stays], "the cached set is the fresh one")
        #expect(await state.reads == 2)
    }

    @Test func changesApplyToACachedConversation() async throws {
        let conversation = UUID(), first = UUID(), joined = UUID()
        let state = ScriptedFeedState([[first]])
        let cache = MembershipCache(feed: ScriptedFeed(state: state))
        async let members = cache.members(of: conversation)
        await state.firstReadStarted()
        await state.release()
        #expect(try await members == [first])
        await cache.apply(.joined(joined), in: conversation)
        #expect(try await cache.members(of: conversation) == [first, joined])
        await cache.apply(.left(first), in: conversation)
        #expect(try await cache.members(of: conversation) == [joined])
        #expect(await state.reads == 1)
    }
}
